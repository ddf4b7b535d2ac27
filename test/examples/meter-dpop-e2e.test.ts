import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAuthenticatedFetch, createTokenSource, OAuthError } from '@portcullis/client';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { buildMeterApi } from '../../examples/meter-api/src/meter-api.js';
import { configFromEnv, connect, type DaemonConfig, MeterApiError, sendReading } from '../../examples/meter-daemon-dpop/src/daemon.js';
import { makeClientKey } from '../../examples/meter-daemon-dpop/src/keygen.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';

/**
 * DPoP needs the server's support (RFC 9449 §5, built alongside this example). A server whose
 * metadata lists no dpop_signing_alg_values_supported skips the DPoP tests, naming why, except
 * in CI, where nothing skips.
 */
async function needsServerDpop(issuer: string, ctx: TestContext): Promise<void> {
  const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { dpop_signing_alg_values_supported?: string[] };
  if (metadata.dpop_signing_alg_values_supported?.length) return;
  if (process.env.CI === 'true') throw new Error('The server does not serve DPoP (no dpop_signing_alg_values_supported in its metadata).');
  ctx.skip('the server does not serve DPoP yet (no dpop_signing_alg_values_supported)');
}

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

/**
 * The secretless DPoP meter daemon against a real Portcullis and the meter API requiring DPoP:
 * the client is created through the management API with a public key, no secret and
 * require_dpop; the daemon authenticates with private_key_jwt, gets DPoP-bound tokens and
 * sends readings; a stolen token is useless without the daemon's key.
 */
describe('examples: DPoP meter daemon → meter API requiring DPoP', () => {
  let server: RealServer;
  let base: SeededClient;
  let api: FastifyInstance;
  let config: DaemonConfig;
  let clientId: string;
  let keyFile: string;

  /** The management API over HTTP, signed in as the platform administrator. */
  const management = async (method: string, url: string, body: unknown) => {
    const session = await fetch(`${server.issuer}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: ADMIN, password: PASSWORD }) });
    expect(session.status).toBe(200);
    const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const { csrf_token } = (await session.json()) as { csrf_token: string };
    const res = await fetch(`${server.issuer}/api/v1${url}`, { method, headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf_token }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD });
    base = await seedClient(server.runtime);
    api = await buildMeterApi({ issuer: server.issuer, audience: base.apiIdentifier, requireDpop: true });
    await api.listen({ port: 0, host: '127.0.0.1' });

    const { privateKeyPem, publicJwk } = await makeClientKey();
    keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meter-dpop-')), 'client-key.pem');
    fs.writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
    const created = await management('POST', `/organizations/${base.orgId}/clients`, {
      name: 'meter daemon (DPoP)',
      roles: [base.roleId],
      secret: false,
      require_dpop: true,
      jwks: { keys: [publicJwk] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ secret_hint: null, require_dpop: true });
    expect(created.body).not.toHaveProperty('client_secret');
    clientId = String(created.body.client_id);
    config = configFromEnv({
      PORTCULLIS_ISSUER: server.issuer,
      PORTCULLIS_CLIENT_ID: clientId,
      PORTCULLIS_PRIVATE_KEY_FILE: keyFile,
      METER_API_AUDIENCE: base.apiIdentifier,
      METER_API_URL: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`,
      METER_ID: 'meter-9',
    });
  });
  afterAll(async () => {
    await api?.close();
    await server?.close();
  });

  it('sends readings with DPoP-bound tokens it got without a secret', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const daemon = connect(config);
    await expect(sendReading(daemon, config, 1.5)).resolves.toMatchObject({ meter_id: 'meter-9', value: 1.5, recorded_by: clientId });
    await expect(sendReading(daemon, config, 2.5)).resolves.toMatchObject({ value: 2.5 });
    const token = await daemon.tokens.getAccessToken();
    expect(token.tokenType).toBe('DPoP');
    const handle = await daemon.tokens.dpopHandle?.();
    expect(decodeJwt(token.token).cnf).toEqual({ jkt: await handle?.calculateThumbprint() });
  });

  it('a stolen token is refused: as a bearer token, and with a proof of another key', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const daemon = connect(config);
    await sendReading(daemon, config, 3);
    const stolen = await daemon.tokens.getToken();
    const url = `${config.apiUrl}/meters/meter-9/readings`;
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${stolen}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token", error_description="The access token is bound to a DPoP key/);
    // The thief's own DPoP key signs a perfect proof for the stolen token: still refused.
    const thief = connect(config);
    const thiefProof = createAuthenticatedFetch({ ...thief.tokens, getAccessToken: async () => ({ ...(await daemon.tokens.getAccessToken()) }), dpopHandle: thief.tokens.dpopHandle });
    const withOtherKey = await thiefProof(url);
    expect(withOtherKey.status).toBe(401);
    expect(withOtherKey.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token", error_description="The access token is bound to another key than the DPoP proof."/);
  });

  it('the client cannot get a token without DPoP (require_dpop), nor a bearer client use the API', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const withoutDpop = createTokenSource({ issuer: server.issuer, clientId, privateKey: fs.readFileSync(keyFile, 'utf8'), audience: base.apiIdentifier, retry: false });
    await expect(withoutDpop.getToken()).rejects.toMatchObject({ name: 'OAuthError', code: 'invalid_dpop_proof', status: 400 });
    const bearer = createTokenSource({ issuer: server.issuer, clientId: base.clientId, clientSecret: base.secret, audience: base.apiIdentifier });
    const res = await createAuthenticatedFetch(bearer)(`${config.apiUrl}/meters/meter-9/readings`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('DPoP error="invalid_token", error_description="This API accepts only DPoP-bound access tokens.", algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"');
  });

  it('a key that is not the client’s fails with invalid_client; the API reports its own refusals as MeterApiError', async () => {
    const { privateKeyPem } = await makeClientKey();
    const strangerFile = path.join(path.dirname(keyFile), 'stranger.pem');
    fs.writeFileSync(strangerFile, privateKeyPem);
    const stranger = { ...config, privateKey: fs.readFileSync(strangerFile, 'utf8') };
    const err = await sendReading(connect(stranger), stranger, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'invalid_client', status: 401 });
    const lost = { ...config, apiUrl: `${config.apiUrl}/nowhere` };
    await expect(sendReading(connect(lost), lost, 1)).rejects.toBeInstanceOf(MeterApiError);
  });
});
