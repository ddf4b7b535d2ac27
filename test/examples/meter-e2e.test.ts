import type { AddressInfo } from 'node:net';
import { OAuthError } from '@portcullis/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMeterApi } from '../../examples/meter-api/src/meter-api.js';
import { configFromEnv, MeterDaemon, type DaemonConfig } from '../../examples/meter-daemon/src/daemon.js';
import { portcullis, tempConfigHome } from '../helpers/cli.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';
const AUDIENCE = 'https://meters.example.com/';

/**
 * Issue 6, end to end: an administrator sets Portcullis up with the CLI, the example daemon
 * sends readings to the example API with the client the CLI created, the CLI rotates the
 * secret, and the daemon fails with the old secret and works with the new one.
 */
describe('examples: meter daemon → meter API, with a client made by the CLI', () => {
  let server: RealServer;
  let api: FastifyInstance;
  let apiUrl: string;
  let env: Record<string, string>;
  let orgId: string;
  let clientId: string;
  let firstSecret: string;
  let secondSecret: string;
  const logs: string[] = [];

  const cli = async (...args: string[]) => {
    const result = await portcullis(args, { env, stdin: PASSWORD });
    expect(result.code, `portcullis ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result;
  };
  const daemonConfig = (secret: string): DaemonConfig =>
    configFromEnv({
      PORTCULLIS_ISSUER: server.issuer,
      PORTCULLIS_CLIENT_ID: clientId,
      PORTCULLIS_CLIENT_SECRET: secret,
      METER_API_AUDIENCE: AUDIENCE,
      METER_API_URL: apiUrl,
      METER_ID: 'meter-7',
      INTERVAL_SECONDS: '0.05',
    });
  const daemon = (secret: string) => new MeterDaemon(daemonConfig(secret), (line) => logs.push(line));

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD });
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: server.issuer };
    api = await buildMeterApi({ issuer: server.issuer, audience: AUDIENCE });
    await api.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
    await server?.close();
  });

  it('sets up the API, a role and a client with the CLI', async () => {
    await cli('login', '--email', ADMIN, '--password-stdin');
    orgId = (await cli('orgs', 'create', '--name', 'Acme Metering', '--json')).json<{ id: string }>().id;
    await cli('apis', 'create', '--identifier', AUDIENCE, '--name', 'Meter readings', '--permission', 'meters:read=Read readings', '--permission', 'meters:write=Record readings');
    await cli('roles', 'create', '--id', 'meter-daemon', '--name', 'Meter daemon', '--api', AUDIENCE, '--permission', 'meters:read', '--permission', 'meters:write');
    const created = (await cli('clients', 'create', '--org', orgId, '--name', 'meter daemon', '--role', 'meter-daemon', '--json')).json<{ client_id: string; client_secret: string }>();
    clientId = created.client_id;
    firstSecret = created.client_secret;
  });

  it('the daemon sends readings the API accepts, scoped to its organization', async () => {
    const reading = await daemon(firstSecret).sendReading();
    expect(reading).toMatchObject({ meter_id: 'meter-7', recorded_by: clientId });
    // The loop: stops cleanly when asked, here after three readings.
    const stop = new AbortController();
    let sent = 0;
    const looping = new MeterDaemon(daemonConfig(firstSecret), (line) => {
      logs.push(line);
      if (line.startsWith('sent ') && ++sent === 3) stop.abort();
    });
    await looping.run(stop.signal);
    expect(sent).toBe(3);
    expect(logs.filter((l) => l.startsWith('sent meter-7 = '))).toHaveLength(4);
  });

  it('the API refuses calls without a token, or with a token lacking meters:write', async () => {
    const anonymous = await fetch(`${apiUrl}/meters/meter-7/readings`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    await cli('roles', 'create', '--id', 'meter-reader', '--name', 'Meter reader', '--api', AUDIENCE, '--permission', 'meters:read');
    const reader = (await cli('clients', 'create', '--org', orgId, '--name', 'dashboard', '--role', 'meter-reader', '--json')).json<{ client_id: string; client_secret: string }>();
    const readOnly = new MeterDaemon({ ...daemonConfig(reader.client_secret), clientId: reader.client_id }, () => {});
    // The daemon asks for meters:write, which this client does not hold.
    await expect(readOnly.sendReading()).rejects.toMatchObject({ name: 'OAuthError', code: 'invalid_scope' });
  });

  it('after `clients rotate`, the old secret fails with invalid_client and the new one works', async () => {
    const running = daemon(firstSecret);
    await running.sendReading();

    const rotated = await cli('clients', 'rotate', clientId, '--org', orgId, '--json');
    secondSecret = rotated.json<{ client_secret: string }>().client_secret;
    expect(rotated.stderr).toContain('shown only this once');

    // A daemon started with the old secret cannot get a token.
    const restarted = daemon(firstSecret);
    const err = await restarted.sendReading().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'invalid_client', status: 401 });
    // …and its loop stops on it rather than retrying rejected credentials.
    await expect(restarted.run(new AbortController().signal)).rejects.toMatchObject({ code: 'invalid_client' });

    // One that was already running keeps its token until it must renew it (rotation does not revoke
    // tokens already issued), and then fails the same way.
    await expect(running.sendReading()).resolves.toMatchObject({ recorded_by: clientId });
    running.tokens.invalidate();
    await expect(running.sendReading()).rejects.toMatchObject({ code: 'invalid_client' });

    // With the new secret, it works again.
    const renewed = daemon(secondSecret);
    await expect(renewed.sendReading()).resolves.toMatchObject({ meter_id: 'meter-7', recorded_by: clientId });
  });

  it('a deleted client loses access: the daemon is refused at its next token', async () => {
    await cli('clients', 'delete', clientId, '--org', orgId, '--yes');
    await expect(daemon(secondSecret).sendReading()).rejects.toMatchObject({ code: 'invalid_client' });
  });

  it('the daemon reports API refusals as MeterApiError', async () => {
    const fresh = (await cli('clients', 'create', '--org', orgId, '--name', 'meter daemon 2', '--role', 'meter-daemon', '--json')).json<{ client_id: string; client_secret: string }>();
    const lost = new MeterDaemon({ ...daemonConfig(fresh.client_secret), clientId: fresh.client_id, apiUrl: `${apiUrl}/nowhere` }, () => {});
    await expect(lost.sendReading()).rejects.toMatchObject({ name: 'MeterApiError', status: 404 });
  });
});
