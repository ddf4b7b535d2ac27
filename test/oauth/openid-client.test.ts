import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { databaseUrlFor, startRealServer, tempDataDir } from '../helpers/server.js';
import { tampered } from '../helpers/tamper.js';

/** A real client library against a real listening server: discovery, then the client credentials grant. */
describe.each(testDatabases())('openid-client against a listening server on $name', (db) => {
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let seeded: SeededClient;

  beforeAll(async () => {
    const databaseUrl = await databaseUrlFor(db);
    server = await startRealServer({ dataDir: tempDataDir(), masterKey: randomBytes(32).toString('base64'), ...(databaseUrl ? { databaseUrl } : {}) });
    seeded = await seedClient(server.runtime);
  });
  afterAll(async () => {
    await server?.close();
    await db.dispose();
  });

  async function discover(auth: client.ClientAuth) {
    return client.discovery(new URL(server.issuer), seeded.clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
  }

  it('discovers the server (RFC 8414) and gets a token with client_secret_basic', async () => {
    const config = await discover(client.ClientSecretBasic(seeded.secret));
    expect(config.serverMetadata().token_endpoint).toBe(`${server.issuer}/oauth/token`);
    const tokens = await client.clientCredentialsGrant(config, { audience: seeded.apiIdentifier });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.scope).toBe('meters:read meters:write');
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: seeded.apiIdentifier, typ: 'at+jwt' });
    expect(payload.client_id).toBe(seeded.clientId);
  });

  it('gets a token with client_secret_post and a resource indicator', async () => {
    const config = await discover(client.ClientSecretPost(seeded.secret));
    const tokens = await client.clientCredentialsGrant(config, { resource: seeded.apiIdentifier, scope: 'meters:read' });
    expect(tokens.scope).toBe('meters:read');
  });

  it('surfaces invalid_client for a wrong secret', async () => {
    const config = await discover(client.ClientSecretBasic(tampered(seeded.secret, 6)));
    // The 401 carries a Basic challenge (RFC 6749 §5.2), which openid-client reports as a challenge error.
    const err = (await client.clientCredentialsGrant(config, { audience: seeded.apiIdentifier }).catch((e: unknown) => e)) as {
      status: number;
      cause: { scheme: string }[];
      response: Response;
    };
    expect(err.status).toBe(401);
    expect(err.cause[0]?.scheme).toBe('basic');
    expect(await err.response.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
  });

  it("answers the seeds' curl request verbatim (form body credentials)", async () => {
    // curl --request POST --url 'http://localhost:8080/oauth/token' --header 'content-type: application/x-www-form-urlencoded'
    //   --data grant_type=client_credentials --data client_id=… --data client_secret=… --data audience=…
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${seeded.clientId}&client_secret=${seeded.secret}&audience=${seeded.apiIdentifier}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.token_type).toBe('Bearer');
  });

  it('refreshes and introspects with openid-client (refresh_tokens: true)', async () => {
    await server.runtime.clients.update(seeded.orgId, seeded.clientId, { refresh_tokens: true }, SYSTEM_ACTOR);
    const config = await discover(client.ClientSecretBasic(seeded.secret));
    expect(config.serverMetadata().introspection_endpoint).toBe(`${server.issuer}/oauth/introspect`);
    const first = await client.clientCredentialsGrant(config, { audience: seeded.apiIdentifier });
    expect(typeof first.refresh_token).toBe('string');
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const info = await client.tokenIntrospection(config, second.access_token);
    expect(info).toMatchObject({ active: true, client_id: seeded.clientId, aud: seeded.apiIdentifier, token_type: 'Bearer' });
    await client.tokenRevocation(config, second.access_token);
    expect((await client.tokenIntrospection(config, second.access_token)).active).toBe(false);
  });
});
