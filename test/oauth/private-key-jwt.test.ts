import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { generateSecret } from '../../src/clients/secret.js';
import { testDatabases } from '../helpers/databases.js';
import { call, createUser, signIn, type Caller } from '../helpers/management.js';
import { basic, form, seedClient, TEST_ISSUER, type SeededClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { verifyAccessToken } from '../helpers/tokens.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
  alg: string;
}

async function keyPair(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

/** A private_key_jwt assertion (RFC 7523 §3); `claims` overrides the defaults. */
async function assertion(key: KeyPair, clientId: string, now: Date, claims: Record<string, unknown> = {}): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ iss: clientId, sub: clientId, aud: TEST_ISSUER, iat, exp: iat + 60, jti: randomUUID(), ...claims }).setProtectedHeader({ alg: key.alg }).sign(key.privateKey);
}

function expectInvalidClient(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
  expect(res.statusCode).toBe(401);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['www-authenticate']).toBe('Basic realm="portcullis", charset="UTF-8"');
  expect(res.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
}

describe.each(testDatabases())('private_key_jwt (RFC 7523) on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started));
  let admin: Caller;
  let seeded: SeededClient;
  let key: KeyPair;
  /** A client without a secret, holding `key`. */
  let clientId: string;

  const token = (clientAssertion: string, extra: Record<string, string> = {}, opts: { url?: string; headers?: Record<string, string> } = {}) =>
    p.app.inject({
      method: 'POST',
      url: opts.url ?? '/oauth/token',
      headers: { ...FORM, ...opts.headers },
      payload: form({ grant_type: 'client_credentials', audience: seeded.apiIdentifier, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion, ...extra }),
    });

  beforeAll(async () => {
    seeded = await seedClient(p.runtime);
    await createUser(p.runtime, `admin-${randomUUID()}@example.com`, { platformAdmin: true }).then(async (u) => (admin = await signIn(p.app, u.email)));
    key = await keyPair();
    const res = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients`, { name: 'keyed', roles: [seeded.roleId], secret: false, jwks: { keys: [key.publicJwk] } });
    expect(res.statusCode, res.body).toBe(201);
    clientId = (res.json() as { client_id: string }).client_id;
  });

  describe('registering keys', () => {
    it('creates a client without a secret: secret_hint null, no client_secret, each key with its thumbprint as kid', async () => {
      const res = await call(p.app, admin, 'GET', `/organizations/${seeded.orgId}/clients/${clientId}`);
      expect(res.statusCode).toBe(200);
      const body = res.json() as Record<string, unknown>;
      expect(body.secret_hint).toBeNull();
      expect(body.require_dpop).toBe(false);
      expect(body).not.toHaveProperty('client_secret');
      const kid = await calculateJwkThumbprint(key.publicJwk, 'sha256');
      expect(body.jwks).toEqual({ keys: [{ kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y, kid }] });

      const created = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients`, {
        name: 'keyed too',
        roles: [],
        secret: false,
        jwks: { keys: [{ ...key.publicJwk, kid: 'k1', alg: 'ES256' }] },
      });
      expect(created.statusCode).toBe(201);
      expect(created.headers['cache-control']).toBe('no-store');
      expect(Object.keys(created.json() as object)).not.toContain('client_secret');
      expect((created.json() as { jwks: unknown }).jwks).toEqual({ keys: [{ kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y, kid: 'k1', alg: 'ES256' }] });
    });

    it('a client with a secret and keys gets its secret as usual', async () => {
      const res = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients`, { name: 'both', roles: [], jwks: { keys: [key.publicJwk] } });
      expect(res.statusCode).toBe(201);
      const body = res.json() as { client_secret: string; secret_hint: string };
      expect(body.client_secret).toMatch(/^pcs_/);
      expect(body.secret_hint).toBe(body.client_secret.slice(-4));
    });

    it('refuses a private key with a 400 naming the member, at create and at PUT …/jwks', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateJwk = await exportJWK(privateKey);
      const created = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients`, { name: 'bad', roles: [], secret: false, jwks: { keys: [privateJwk] } });
      expect(created.statusCode).toBe(400);
      const body = created.json() as { error: string; message: string; details: { field: string; message: string }[] };
      expect(body.error).toBe('invalid_request');
      expect(body.details).toEqual([{ field: '/body/jwks/keys/0/d', message: '"d" is a private key member: register the public key only (never send a private key)' }]);

      const put = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [key.publicJwk, { kty: 'oct', k: 'c2VjcmV0' }] });
      expect(put.statusCode).toBe(400);
      expect((put.json() as { details: unknown[] }).details).toEqual([{ field: '/body/keys/1/k', message: '"k" is a private key member: register the public key only (never send a private key)' }]);
    });

    it('refuses keys it cannot verify with, and secret: false without keys', async () => {
      const cases: [unknown, string][] = [
        [{ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' }, '/body/keys/0/crv'],
        [{ ...key.publicJwk, alg: 'RS256' }, '/body/keys/0/alg'],
        [{ ...key.publicJwk, use: 'enc' }, '/body/keys/0/use'],
        [{ kty: 'EC', crv: 'P-256', x: key.publicJwk.x }, '/body/keys/0/y'],
        [{ kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.x }, '/body/keys/0'],
      ];
      for (const [jwk, field] of cases) {
        const res = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [jwk] });
        expect(res.statusCode, JSON.stringify(jwk)).toBe(400);
        expect((res.json() as { details: { field: string }[] }).details.map((d) => d.field)).toEqual([field]);
      }
      for (const body of [
        { name: 'x', roles: [], secret: false },
        { name: 'x', roles: [], secret: false, jwks: { keys: [] } },
      ]) {
        const res = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients`, body);
        expect(res.statusCode).toBe(400);
        expect((res.json() as { details: unknown }).details).toEqual([{ field: '/body/secret', message: 'false needs jwks with at least one key' }]);
      }
    });
  });

  describe('at the token endpoint', () => {
    it('issues a token for an assertion whose aud is the issuer or the token endpoint, at both paths', async () => {
      for (const [aud, url] of [
        [TEST_ISSUER, '/oauth/token'],
        [`${TEST_ISSUER}/oauth/token`, '/oauth/token'],
        [`${TEST_ISSUER}/oauth2/token`, '/oauth2/token'],
        [[TEST_ISSUER, 'https://elsewhere.example'], '/oauth/token'],
      ] as const) {
        const res = await token(await assertion(key, clientId, p.clock.now(), { aud }), {}, { url });
        expect(res.statusCode, `${JSON.stringify(aud)} ${res.body}`).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        const body = res.json() as { access_token: string; token_type: string };
        expect(body.token_type).toBe('Bearer');
        const { payload } = await verifyAccessToken(p.app, body.access_token, seeded.apiIdentifier, p.clock.now());
        expect(payload.client_id).toBe(clientId);
      }
    });

    it('accepts a client_id in the body naming the same client, and RSA, PS256 and EdDSA keys', async () => {
      const keys = await Promise.all((['RS256', 'PS256', 'EdDSA'] as const).map((alg) => keyPair(alg)));
      const put = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [key.publicJwk, ...keys.map((k) => k.publicJwk)] });
      expect(put.statusCode, put.body).toBe(200);
      for (const k of [key, ...keys]) {
        const res = await token(await assertion(k, clientId, p.clock.now()), { client_id: clientId });
        expect(res.statusCode, `${k.alg} ${res.body}`).toBe(200);
      }
    });

    it('refuses wrong iss, sub, aud, an expired assertion, exp too far ahead, no jti, an unknown key, and a replay: 401 invalid_client', async () => {
      const now = p.clock.now();
      const iat = Math.floor(now.getTime() / 1000);
      const other = await keyPair();
      const cases: [string, string][] = [
        ['wrong iss', await assertion(key, clientId, now, { iss: seeded.clientId })],
        ['wrong sub', await assertion(key, clientId, now, { sub: seeded.clientId, iss: clientId })],
        ['wrong aud', await assertion(key, clientId, now, { aud: 'https://elsewhere.example' })],
        ['introspection aud is fine, a resource aud is not', await assertion(key, clientId, now, { aud: seeded.apiIdentifier })],
        ['expired', await assertion(key, clientId, now, { exp: iat - 31 })],
        ['exp too far ahead', await assertion(key, clientId, now, { exp: iat + 301 + 30 })],
        ['no exp', await assertion(key, clientId, now, { exp: undefined })],
        ['no jti', await assertion(key, clientId, now, { jti: undefined })],
        ['nbf ahead', await assertion(key, clientId, now, { nbf: iat + 120 })],
        ['another key', await assertion(other, clientId, now)],
        ['not a JWT', 'not.a.jwt'],
        ['a client without keys', await assertion(key, seeded.clientId, now)],
        ['an unknown client', await assertion(key, 'cli_unknown', now)],
      ];
      for (const [, jwt] of cases) expectInvalidClient(await token(jwt));

      const once = await assertion(key, clientId, now);
      expect((await token(once)).statusCode).toBe(200);
      expectInvalidClient(await token(once));
      // Within the clock skew still fine.
      expect((await token(await assertion(key, clientId, now, { exp: iat - 10 }))).statusCode).toBe(200);
      expect((await token(await assertion(key, clientId, now, { exp: iat + 300 }))).statusCode).toBe(200);
    });

    it('an HMAC-signed assertion (alg HS256) is refused', async () => {
      const jwt = await new SignJWT({ iss: clientId, sub: clientId, aud: TEST_ISSUER, exp: Math.floor(p.clock.now().getTime() / 1000) + 60, jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode('x'.repeat(32)));
      expectInvalidClient(await token(jwt));
    });

    it('counts as one method: with Basic or a client_secret too → 400 invalid_request; a bad assertion type → 400', async () => {
      const secret = generateSecret();
      const twice = await token(await assertion(key, clientId, p.clock.now()), {}, { headers: { authorization: basic(clientId, secret) } });
      expect(twice.statusCode).toBe(400);
      expect(twice.json()).toEqual({ error: 'invalid_request', error_description: 'The client authenticated with more than one method (client_secret_basic, private_key_jwt); use exactly one.' });
      const post = await token(await assertion(key, clientId, p.clock.now()), { client_id: clientId, client_secret: secret });
      expect(post.statusCode).toBe(400);
      expect((post.json() as { error: string }).error).toBe('invalid_request');
      const badType = await token('x', { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' });
      expect(badType.statusCode).toBe(400);
      expect(badType.json()).toEqual({ error: 'invalid_request', error_description: `client_assertion_type must be ${ASSERTION_TYPE}.` });
    });

    it('a client without a secret cannot authenticate with one', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(clientId, generateSecret()) },
        payload: form({ grant_type: 'client_credentials', audience: seeded.apiIdentifier }),
      });
      expectInvalidClient(res);
    });

    it('authenticates introspection and revocation too', async () => {
      const issued = (await token(await assertion(key, clientId, p.clock.now()))).json() as { access_token: string };
      const operation = async (url: string, aud: string) =>
        p.app.inject({
          method: 'POST',
          url,
          headers: FORM,
          payload: form({ token: issued.access_token, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(key, clientId, p.clock.now(), { aud }) }),
        });
      const introspected = await operation('/oauth/introspect', `${TEST_ISSUER}/oauth/introspect`);
      expect(introspected.statusCode).toBe(200);
      expect((introspected.json() as { active: boolean; client_id: string }).client_id).toBe(clientId);
      expect((await operation('/oauth/revoke', TEST_ISSUER)).statusCode).toBe(200);
      expect(((await operation('/oauth/introspect', TEST_ISSUER)).json() as { active: boolean }).active).toBe(false);
      const refused = await p.app.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: FORM,
        payload: form({ token: issued.access_token, client_assertion_type: ASSERTION_TYPE, client_assertion: 'x.y.z' }),
      });
      expectInvalidClient(refused);
    });
  });

  describe('replacing keys', () => {
    it('takes effect at once: the old key fails, the new one works; the change is audited with thumbprints', async () => {
      const next = await keyPair('EdDSA');
      expect((await token(await assertion(key, clientId, p.clock.now()))).statusCode).toBe(200);
      const put = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [next.publicJwk] });
      expect(put.statusCode).toBe(200);
      const thumbprint = await calculateJwkThumbprint(next.publicJwk, 'sha256');
      expect((put.json() as { jwks: unknown }).jwks).toEqual({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: next.publicJwk.x, kid: thumbprint }] });
      expectInvalidClient(await token(await assertion(key, clientId, p.clock.now())));
      expect((await token(await assertion(next, clientId, p.clock.now()))).statusCode).toBe(200);

      const events = await call(p.app, admin, 'GET', `/organizations/${seeded.orgId}/audit-events`);
      const changed = (events.json() as { data: { action: string; target: { id: string }; details: Record<string, unknown> }[] }).data.find(
        (e) => e.action === 'client.keys_changed' && e.target.id === clientId,
      );
      expect(changed?.details).toEqual({ key_thumbprints: [thumbprint] });
      key = next;
    });

    it('will not remove the last way a client without a secret authenticates (409); after a rotation gives it a secret, it will', async () => {
      const refused = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [] });
      expect(refused.statusCode).toBe(409);
      expect((refused.json() as { error: string }).error).toBe('conflict');

      const rotated = await call(p.app, admin, 'POST', `/organizations/${seeded.orgId}/clients/${clientId}/secret/rotate`, {});
      expect(rotated.statusCode).toBe(200);
      const { client_secret } = rotated.json() as { client_secret: string };
      const removed = await call(p.app, admin, 'PUT', `/organizations/${seeded.orgId}/clients/${clientId}/jwks`, { keys: [] });
      expect(removed.statusCode).toBe(200);
      expect(removed.json()).toMatchObject({ jwks: { keys: [] }, secret_hint: client_secret.slice(-4) });
      expectInvalidClient(await token(await assertion(key, clientId, p.clock.now())));
      const bySecret = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(clientId, client_secret) },
        payload: form({ grant_type: 'client_credentials', audience: seeded.apiIdentifier }),
      });
      expect(bySecret.statusCode).toBe(200);
    });

    it('is an org admin route: another organization answers 404', async () => {
      const other = await p.runtime.organizations.create({ name: `Other ${randomUUID()}` }, SYSTEM_ACTOR);
      const res = await call(p.app, admin, 'PUT', `/organizations/${other.id}/clients/${clientId}/jwks`, { keys: [] });
      expect(res.statusCode).toBe(404);
    });
  });
});
