import { describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, startPortcullis, TEST_ISSUER, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest, verifyAccessToken } from '../helpers/tokens.js';

describe.each(testDatabases())('discovery and health on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started));

  it('serves RFC 8414 metadata at both well-known paths', async () => {
    const oauth = await p.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    const oidc = await p.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    expect(oauth.statusCode).toBe(200);
    expect(oidc.statusCode).toBe(200);
    expect(oauth.headers['content-type']).toMatch(/^application\/json/);
    expect(oidc.json()).toEqual(oauth.json());
    expect(oauth.json()).toEqual({
      issuer: TEST_ISSUER,
      token_endpoint: `${TEST_ISSUER}/oauth/token`,
      jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      introspection_endpoint: `${TEST_ISSUER}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      introspection_endpoint_auth_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      revocation_endpoint: `${TEST_ISSUER}/oauth/revoke`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      revocation_endpoint_auth_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    });
  });

  it('publishes the signing key in the JWKS with kid, alg and use, and nothing private', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    const { keys } = res.json() as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof key?.kid).toBe('string');
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  });

  it('answers /healthz and /readyz', async () => {
    const health = await p.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await p.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', database: db.name });
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/oauth/token', '/oauth2/token', '/oauth/introspect', '/oauth/revoke', '/.well-known/jwks.json']));
  });

  it('answers an unknown route with the management error shape', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'No route GET /nope.' });
  });

  it('answers /readyz 503 when the database is gone', async () => {
    const other = await startPortcullis(await db.open());
    await other.runtime.store.close();
    const res = await other.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable', database: db.name });
    await other.app.close();
  });
});

describe.each([
  ['RS256', { kty: 'RSA' }],
  ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
] as const)('SIGNING_ALG=%s', (alg, shape) => {
  it('signs tokens and publishes the key with that algorithm', async () => {
    const [db] = testDatabases();
    const p = await startPortcullis(await db!.open(), { env: { SIGNING_ALG: alg } });
    try {
      const jwks = (await p.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Record<string, unknown>[] };
      expect(jwks.keys[0]).toMatchObject({ ...shape, alg, use: 'sig' });
      expect(jwks.keys[0]).not.toHaveProperty('d');
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.statusCode).toBe(200);
      const { header } = await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
      expect(header.alg).toBe(alg);
    } finally {
      await p.close();
    }
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus metrics, counting requests by route and status', async () => {
    const [db] = testDatabases();
    const p = await startPortcullis(await db!.open());
    try {
      const c = await seedClient(p.runtime);
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
      expect((await tokenRequest(p.app, { clientId: c.clientId, secret: 'wrong' }, { audience: c.apiIdentifier })).statusCode).toBe(401);
      const res = await p.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.body).toContain('portcullis_http_requests_total{route="/oauth/token",method="POST",status="200"} 1');
      expect(res.body).toContain('portcullis_http_requests_total{route="/oauth/token",method="POST",status="401"} 1');
      expect(res.body).toContain('portcullis_grant_cache_entries 1');
      expect(res.body).toMatch(/^process_cpu_user_seconds_total \d/m);
    } finally {
      await p.close();
    }
  });
});
