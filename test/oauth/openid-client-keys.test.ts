import { randomBytes, randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { calculateJwkThumbprint, createRemoteJWKSet, type CryptoKey, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { databaseUrlFor, startRealServer, tempDataDir } from '../helpers/server.js';

/** What openid-client sent to the token endpoint, to replay it by hand. */
interface Sent {
  body: string;
  dpop: string | null;
}

/**
 * A real client library against a real listening server: openid-client v6 authenticates with
 * private_key_jwt (a client without a secret) and binds its tokens with DPoP; its assertion and
 * proof, replayed as they were sent, fail as docs/http-api.md §2 says.
 */
describe.each(testDatabases())('openid-client with private_key_jwt and DPoP on $name', (db) => {
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let seeded: SeededClient;
  let clientId: string;
  let privateKey: CryptoKey;
  const sent: Sent[] = [];

  beforeAll(async () => {
    const databaseUrl = await databaseUrlFor(db);
    server = await startRealServer({ dataDir: tempDataDir(), masterKey: randomBytes(32).toString('base64'), ...(databaseUrl ? { databaseUrl } : {}) });
    seeded = await seedClient(server.runtime);
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    const created = await server.runtime.clients.create(
      seeded.orgId,
      { name: 'keyed', roles: [seeded.roleId], refresh_tokens: true, secret: false, jwks: { keys: [{ kty: 'EC', ...(await exportJWK(pair.publicKey)) }] } },
      SYSTEM_ACTOR,
    );
    clientId = created.client.client_id;
    expect(created.client_secret).toBeUndefined();
  });
  afterAll(async () => {
    await server?.close();
    await db.dispose();
  });

  async function discover() {
    const config = await client.discovery(new URL(server.issuer), clientId, undefined, client.PrivateKeyJwt(privateKey), { execute: [client.allowInsecureRequests] });
    config[client.customFetch] = async (url, options) => {
      if (url.endsWith('/oauth/token')) {
        const headers = new Headers(options.headers);
        sent.push({ body: String(options.body), dpop: headers.get('dpop') });
      }
      return fetch(url, options as RequestInit);
    };
    return config;
  }

  const replay = (s: Sent) =>
    fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(s.dpop ? { dpop: s.dpop } : {}) },
      body: s.body,
    });

  it('gets a token with private_key_jwt, and a replay of its assertion is 401 invalid_client', async () => {
    const config = await discover();
    expect(config.serverMetadata().token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    const tokens = await client.clientCredentialsGrant(config, { audience: seeded.apiIdentifier });
    expect(tokens.token_type).toBe('bearer');
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: seeded.apiIdentifier, typ: 'at+jwt' });
    expect(payload.client_id).toBe(clientId);

    const last = sent.at(-1)!;
    expect(new URLSearchParams(last.body).get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const res = await replay(last);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="portcullis", charset="UTF-8"');
    expect(await res.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
  });

  it('gets a DPoP-bound token and refreshes it with the same key; a replayed proof is 400 invalid_dpop_proof', async () => {
    const config = await discover();
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const dpop = client.getDPoPHandle(config, keyPair);
    const tokens = await client.clientCredentialsGrant(config, { audience: seeded.apiIdentifier }, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`));
    expect((await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: seeded.apiIdentifier })).payload.cnf).toEqual({ jkt });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: dpop });
    expect(refreshed.token_type).toBe('dpop');
    expect((await jwtVerify(refreshed.access_token, jwks, { issuer: server.issuer, audience: seeded.apiIdentifier })).payload.cnf).toEqual({ jkt });

    // The same proof again, with a fresh assertion made by hand: only the proof is replayed.
    const withProof = sent.at(-1)!;
    expect(withProof.dpop).toBeTruthy();
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: clientId, sub: clientId, aud: server.issuer, iat: now, exp: now + 60, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    const body = new URLSearchParams(withProof.body);
    body.set('client_assertion', assertion);
    const res = await replay({ body: body.toString(), dpop: withProof.dpop });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof');
  });
});
