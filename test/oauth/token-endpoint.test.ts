import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { generateSecret } from '../../src/clients/secret.js';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, startPortcullis, TEST_ISSUER, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest, verifyAccessToken } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'Client authentication failed.' };

/** The headers every token-endpoint answer carries (docs/http-api.md §2). */
function expectNoStore(res: { headers: Record<string, unknown> }) {
  expect(res.headers['cache-control']).toBe('no-store');
}

function expectOAuthError(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, error: string) {
  expect(res.statusCode).toBe(status);
  expectNoStore(res);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  return body;
}

function expectInvalidClient(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
  expectOAuthError(res, 401, 'invalid_client');
  expect(res.json()).toEqual(INVALID_CLIENT);
  expect(res.headers['www-authenticate']).toBe('Basic realm="portcullis", charset="UTF-8"');
}

describe.each(testDatabases())('POST /oauth/token on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started));

  describe('success', () => {
    it('issues an RFC 9068 JWT for client_secret_basic, with exactly the contract fields and headers', async () => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.pragma).toBe('no-cache');
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'meters:read meters:write' });

      const { payload, header } = await verifyAccessToken(p.app, body.access_token, c.apiIdentifier, p.clock.now());
      expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(typeof header.kid).toBe('string');
      expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'org_id', 'roles', 'scope', 'sub']);
      expect(payload).toMatchObject({
        iss: TEST_ISSUER,
        sub: c.clientId,
        aud: c.apiIdentifier,
        client_id: c.clientId,
        org_id: c.orgId,
        scope: 'meters:read meters:write',
        roles: [c.roleId],
        iat: Math.floor(p.clock.now().getTime() / 1000),
      });
      expect(payload.exp).toBe((payload.iat as number) + 3600);
      expect(payload.jti).toMatch(/^[\w-]{22}$/);
    });

    it('accepts a plain (un-URL-encoded) Basic pair', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret, false) },
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(res.statusCode).toBe(200);
    });

    it("accepts client_secret_post, the seeds' request verbatim", async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret, audience: c.apiIdentifier }),
      });
      expect(res.statusCode).toBe(200);
      await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
    });

    it('accepts a JSON body', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        payload: { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret, audience: c.apiIdentifier },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().token_type).toBe('Bearer');
    });

    it('serves the same endpoint at /oauth2/token', async () => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { url: '/oauth2/token' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
    });

    it('takes `resource` (RFC 8707) as a synonym of `audience`', async () => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { resource: c.apiIdentifier });
      expect(res.statusCode).toBe(200);
      const { payload } = await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
      expect(payload.aud).toBe(c.apiIdentifier);
    });

    it("narrows to a requested scope subset, in the API's order, ignoring duplicates", async () => {
      const c = await seedClient(p.runtime, { permissions: ['a:read', 'b:read', 'c:write'] });
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier, scope: 'c:write a:read c:write' });
      expect(res.statusCode).toBe(200);
      expect(res.json().scope).toBe('a:read c:write');
      const { payload } = await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
      expect(payload.scope).toBe('a:read c:write');
    });

    it("grants only what the client's roles hold when no scope is asked", async () => {
      const c = await seedClient(p.runtime, { permissions: ['a:read', 'b:read'], granted: ['b:read'] });
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.json().scope).toBe('b:read');
    });

    it("takes expires_in from the API's own token lifetime", async () => {
      const c = await seedClient(p.runtime, { ttl: 600 });
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.json().expires_in).toBe(600);
      const { payload } = await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
      expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    });

    it('treats empty parameters as absent (RFC 6749 §3.2) and ignores unknown ones', async () => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier, scope: '', resource: '', foo: 'bar' });
      expect(res.statusCode).toBe(200);
      expect(res.json().scope).toBe('meters:read meters:write');
    });
  });

  describe('invalid_client: every failure looks the same', () => {
    it('answers identically for a wrong secret, an unknown client, a deleted client and a rotated-away secret', async () => {
      const c = await seedClient(p.runtime);
      const other = await seedClient(p.runtime);
      const wrongSecret = await tokenRequest(p.app, { clientId: c.clientId, secret: other.secret }, { audience: c.apiIdentifier });
      const unknown = await tokenRequest(p.app, { clientId: 'no-such-client', secret: c.secret }, { audience: c.apiIdentifier });
      const malformedSecret = await tokenRequest(p.app, { clientId: c.clientId, secret: 'hunter2' }, { audience: c.apiIdentifier });

      const rotated = await seedClient(p.runtime);
      await p.runtime.clients.rotateSecret(rotated.orgId, rotated.clientId, { gracePeriodSeconds: 0 }, SYSTEM_ACTOR);
      const rotatedAway = await tokenRequest(p.app, rotated, { audience: rotated.apiIdentifier });

      const deleted = await seedClient(p.runtime);
      expect((await tokenRequest(p.app, deleted, { audience: deleted.apiIdentifier })).statusCode).toBe(200);
      await p.runtime.clients.delete(deleted.orgId, deleted.clientId, SYSTEM_ACTOR);
      const afterDelete = await tokenRequest(p.app, deleted, { audience: deleted.apiIdentifier });

      for (const res of [wrongSecret, unknown, malformedSecret, rotatedAway, afterDelete]) expectInvalidClient(res);
      expect(new Set([wrongSecret, unknown, malformedSecret, rotatedAway, afterDelete].map((r) => r.body)).size).toBe(1);
    });

    it('answers invalid_client when no client authentication is sent', async () => {
      const res = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: form({ grant_type: 'client_credentials', audience: 'x' }) });
      expectInvalidClient(res);
    });

    it('keeps the previous secret working through a rotation grace period, then refuses it', async () => {
      const c = await seedClient(p.runtime);
      const rotated = await p.runtime.clients.rotateSecret(c.orgId, c.clientId, { gracePeriodSeconds: 300 }, SYSTEM_ACTOR);
      expect(rotated.previous_secret_expires_at?.getTime()).toBe(p.clock.now().getTime() + 300_000);
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
      expect((await tokenRequest(p.app, { clientId: c.clientId, secret: rotated.client_secret }, { audience: c.apiIdentifier })).statusCode).toBe(200);
      p.clock.advance(301);
      expectInvalidClient(await tokenRequest(p.app, c, { audience: c.apiIdentifier }));
      expect((await tokenRequest(p.app, { clientId: c.clientId, secret: rotated.client_secret }, { audience: c.apiIdentifier })).statusCode).toBe(200);
    });
  });

  describe('invalid_request and friends', () => {
    it('refuses two authentication methods in one request', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
        payload: form({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret, audience: c.apiIdentifier }),
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('refuses query-string credentials, naming ALLOW_QUERY_CREDENTIALS', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: `/oauth/token?client_id=${c.clientId}&client_secret=${c.secret}`,
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      const body = expectOAuthError(res, 400, 'invalid_request');
      expect(body.error_description).toContain('ALLOW_QUERY_CREDENTIALS');
    });

    it('requires grant_type', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
        payload: form({ audience: c.apiIdentifier }),
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it.each(['password', 'authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'])('answers unsupported_grant_type for %s', async (grantType) => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { grant_type: grantType, audience: c.apiIdentifier });
      expectOAuthError(res, 400, 'unsupported_grant_type');
    });

    it('requires an audience', async () => {
      const c = await seedClient(p.runtime);
      const body = expectOAuthError(await tokenRequest(p.app, c, {}), 400, 'invalid_request');
      expect(body.error_description).toMatch(/audience/);
    });

    it('refuses audience and resource naming different APIs', async () => {
      const c = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier, resource: 'https://other.example.com/' }), 400, 'invalid_request');
    });

    it('refuses a repeated parameter (RFC 6749 §3.2)', async () => {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
        payload: `grant_type=client_credentials&audience=${encodeURIComponent(c.apiIdentifier)}&audience=x`,
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('refuses a malformed Basic header', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` },
        payload: form({ grant_type: 'client_credentials', audience: 'x' }),
      });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('refuses an unsupported content type and a malformed JSON body with the OAuth error shape', async () => {
      const text = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'text/plain' }, payload: 'grant_type=client_credentials' });
      expectOAuthError(text, 400, 'invalid_request');
      const json = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/json' }, payload: '{"grant_type":' });
      expectOAuthError(json, 400, 'invalid_request');
    });

    it('refuses a body over the size limit', async () => {
      const res = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: `grant_type=client_credentials&x=${'a'.repeat(20_000)}` });
      expectOAuthError(res, 413, 'invalid_request');
    });

    it('refuses an over-long parameter', async () => {
      const c = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, c, { audience: 'x'.repeat(3000) }), 400, 'invalid_request');
    });
  });

  describe('invalid_target and invalid_scope', () => {
    it('answers invalid_target for an unknown audience', async () => {
      const c = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, c, { audience: 'https://nowhere.example.com/' }), 400, 'invalid_target');
    });

    it('answers invalid_target for an API on which the client holds no permission', async () => {
      const c = await seedClient(p.runtime);
      const other = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, c, { audience: other.apiIdentifier }), 400, 'invalid_target');
    });

    it('answers invalid_scope for a permission the client does not hold, naming it', async () => {
      const c = await seedClient(p.runtime, { permissions: ['a:read', 'a:write'], granted: ['a:read'] });
      const body = expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier, scope: 'a:read a:write' }), 400, 'invalid_scope');
      expect(body.error_description).toContain('a:write');
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier, scope: 'nope' }), 400, 'invalid_scope');
    });

    it('answers invalid_scope for a malformed scope', async () => {
      const c = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier, scope: 'meters:read "x"' }), 400, 'invalid_scope');
    });
  });

  describe('changes take effect on the next request', () => {
    it("a role change changes the next token's scope", async () => {
      const c = await seedClient(p.runtime, { permissions: ['a:read', 'a:write'], granted: ['a:read'] });
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().scope).toBe('a:read');
      const writer = await p.runtime.catalogService.createRole({ name: `writer ${c.clientId}`, permissions: [{ api: c.apiIdentifier, value: 'a:write' }] }, SYSTEM_ACTOR);
      await p.runtime.clients.setRoles(c.orgId, c.clientId, [c.roleId, writer.id], SYSTEM_ACTOR);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.json().scope).toBe('a:read a:write');
      const { payload } = await verifyAccessToken(p.app, res.json().access_token, c.apiIdentifier, p.clock.now());
      expect(payload.roles).toEqual([c.roleId, writer.id].sort());
      await p.runtime.clients.setRoles(c.orgId, c.clientId, [], SYSTEM_ACTOR);
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier }), 400, 'invalid_target');
    });

    it("a role's new permission reaches its clients at once", async () => {
      const c = await seedClient(p.runtime, { permissions: ['a:read', 'a:write'], granted: ['a:read'] });
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().scope).toBe('a:read');
      await p.runtime.catalogService.updateRole(
        c.roleId,
        {
          permissions: [
            { api: c.apiIdentifier, value: 'a:read' },
            { api: c.apiIdentifier, value: 'a:write' },
          ],
        },
        SYSTEM_ACTOR,
      );
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().scope).toBe('a:read a:write');
    });
  });
});

describe.each(testDatabases())('token endpoint settings on $name', (db) => {
  afterAll(async () => {
    await db.dispose();
  });

  it('accepts query-string credentials with ALLOW_QUERY_CREDENTIALS=true, uses ACCESS_TOKEN_TTL, and never logs the secret', async () => {
    const lines: string[] = [];
    const p = await startPortcullis(await db.open(), {
      env: { ALLOW_QUERY_CREDENTIALS: 'true', ACCESS_TOKEN_TTL: '900', LOG_LEVEL: 'trace' },
      logStream: { write: (line: string) => void lines.push(line) },
    });
    try {
      const c = await seedClient(p.runtime);
      const res = await p.app.inject({
        method: 'POST',
        url: `/oauth2/token?client_id=${c.clientId}&client_secret=${c.secret}`,
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().expires_in).toBe(900);
      const failed = await p.app.inject({
        method: 'POST',
        url: `/oauth/token?client_id=${c.clientId}&client_secret=${tampered(c.secret)}`,
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(failed.statusCode).toBe(401);
      await tokenRequest(p.app, { clientId: c.clientId, secret: tampered(c.secret, 2) }, { audience: c.apiIdentifier });
      await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: `${c.secret}x`, audience: 'nope' }),
      });
      expect(lines.length).toBeGreaterThan(3);
      const log = lines.join('\n');
      expect(log).not.toContain(c.secret);
      expect(log).not.toContain(c.secret.slice(0, 20));
      expect(log).not.toMatch(/pcs_[0-9A-Za-z]{10}/);
      expect(log).toContain('[redacted]');
    } finally {
      await p.close();
    }
  });

  it('refuses an address for a client_id after AUTH_FAILURES_PER_CLIENT failures from it, even with the right secret, and nobody else', async () => {
    const p = await startPortcullis(await db.open(), { env: { AUTH_FAILURES_PER_CLIENT: '3', AUTH_FAILURE_WINDOW: '60' } });
    try {
      const c = await seedClient(p.runtime);
      const wrong = { clientId: c.clientId, secret: 'wrong' };
      for (let i = 0; i < 3; i++) expect((await tokenRequest(p.app, wrong, { audience: c.apiIdentifier })).statusCode).toBe(401);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expectOAuthError(res, 429, 'too_many_requests');
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The same client from another address, and another client from this one, are not affected.
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.9.8.7' })).statusCode).toBe(200);
      const other = await seedClient(p.runtime);
      expect((await tokenRequest(p.app, other, { audience: other.apiIdentifier })).statusCode).toBe(200);
      // The refusal lasts AUTH_FAILURE_WINDOW seconds.
      p.clock.advance(61);
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
    } finally {
      await p.close();
    }
  });

  it('throttles failed authentication per source IP across client ids', async () => {
    const p = await startPortcullis(await db.open(), { env: { AUTH_FAILURES_PER_IP: '4' } });
    try {
      const c = await seedClient(p.runtime);
      for (let i = 0; i < 4; i++) expect((await tokenRequest(p.app, { clientId: `guess-${i}`, secret: 'x' }, { audience: 'a' })).statusCode).toBe(401);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expectOAuthError(res, 429, 'too_many_requests');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Also requests without credentials, and introspection, from that address.
      const bare = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }) });
      expectOAuthError(bare, 429, 'too_many_requests');
      const introspect = await p.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...FORM, authorization: basic(c.clientId, c.secret) }, payload: form({ token: 'x' }) });
      expectOAuthError(introspect, 429, 'too_many_requests');
      const elsewhere = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress: '10.9.8.7',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(elsewhere.statusCode).toBe(200);
    } finally {
      await p.close();
    }
  });

  it('cannot be used to lock a client out: 1,000 failures naming it from one address leave it its tokens from another, and throttle that address', async () => {
    const p = await startPortcullis(await db.open()); // the default limits
    try {
      const c = await seedClient(p.runtime);
      const attacker = '203.0.113.66';
      const owner = '198.51.100.7';
      const statuses = new Map<number, number>();
      for (let i = 0; i < 1000; i++) {
        // A well-formed secret (format and checksum), so that each failure reaches the hash comparison.
        const res = await tokenRequest(p.app, { clientId: c.clientId, secret: generateSecret() }, { audience: c.apiIdentifier }, { remoteAddress: attacker });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (i % 50 === 49) {
          const real = await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: owner });
          expect(real.statusCode, `the client's own request after ${i + 1} failures`).toBe(200);
        }
      }
      expect([...statuses.keys()].sort()).toEqual([401, 429]);
      expect(statuses.get(401)).toBeLessThanOrEqual(p.config.authFailuresPerClient); // then the pair was refused before any comparison
      // The attacker's address is refused, with the right secret too, and for every client.
      const right = await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: attacker });
      expectOAuthError(right, 429, 'too_many_requests');
      expect(Number(right.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // 20 failures (the pair's limit) are not the address's limit; guess other ids until it is.
      for (let i = 0; i < p.config.authFailuresPerIp; i++) await tokenRequest(p.app, { clientId: `guess-${i}`, secret: generateSecret() }, { audience: 'a' }, { remoteAddress: attacker });
      const other = await seedClient(p.runtime);
      expectOAuthError(await tokenRequest(p.app, other, { audience: other.apiIdentifier }, { remoteAddress: attacker }), 429, 'too_many_requests');
      expect((await tokenRequest(p.app, other, { audience: other.apiIdentifier }, { remoteAddress: owner })).statusCode).toBe(200);
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: owner })).statusCode).toBe(200);
    } finally {
      await p.close();
    }
  });

  it('limits token requests per client and address with TOKEN_RATE_LIMIT (429, Retry-After, OAuth error shape)', async () => {
    const p = await startPortcullis(await db.open(), { env: { TOKEN_RATE_LIMIT: '2' } });
    try {
      const c = await seedClient(p.runtime);
      const first = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(first.statusCode).toBe(200);
      // Only the 429 speaks of the limit (docs/http-api.md §2); a token answer carries no x-ratelimit-* headers.
      expect(Object.keys(first.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([]);
      expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expectOAuthError(res, 429, 'too_many_requests');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const other = await seedClient(p.runtime);
      expect((await tokenRequest(p.app, other, { audience: other.apiIdentifier })).statusCode).toBe(200);
    } finally {
      await p.close();
    }
  });

  it('TOKEN_RATE_LIMIT cannot be spent by naming a client: an address without its secret uses up its own allowance, the client from elsewhere gets its tokens', async () => {
    const limit = 3; // under AUTH_FAILURES_PER_CLIENT (20): the 429s below are the rate limit's
    const p = await startPortcullis(await db.open(), { env: { TOKEN_RATE_LIMIT: String(limit) } });
    try {
      const c = await seedClient(p.runtime);
      const attacker = '203.0.113.66';
      const owner = '198.51.100.7';
      const guess = () => tokenRequest(p.app, { clientId: c.clientId, secret: generateSecret() }, { audience: c.apiIdentifier }, { remoteAddress: attacker });
      for (let i = 0; i < limit; i++) expect((await guess()).statusCode).toBe(401);
      const limited = await guess();
      expectOAuthError(limited, 429, 'too_many_requests');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The attacker's address has used up its allowance for that client, with the right secret too…
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: attacker }), 429, 'too_many_requests');
      // …while the client, from its own address, has its whole allowance, and no more.
      for (let i = 0; i < limit; i++) expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: owner })).statusCode, `request ${i + 1}`).toBe(200);
      expectOAuthError(await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: owner }), 429, 'too_many_requests');
      // The limit is per client and address: another client from the attacker's address is not affected.
      const other = await seedClient(p.runtime);
      expect((await tokenRequest(p.app, other, { audience: other.apiIdentifier }, { remoteAddress: attacker })).statusCode).toBe(200);
    } finally {
      await p.close();
    }
  });
});
