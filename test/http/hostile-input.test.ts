import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { generateSecret, isWellFormedSecret } from '../../src/clients/secret.js';
import { encodeCursor } from '../../src/store/pagination.js';
import { testDatabases } from '../helpers/databases.js';
import { anonymous, type Caller, call, createUser, PASSWORD, signIn } from '../helpers/management.js';
import { basic, form, type SeededClient, seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';

const NUL = '\u0000';
const LONE = '\ud800';
/** A well-formed secret (format and checksum) of no client: made here, so none is committed. */
const WELL_FORMED = generateSecret();

/**
 * Input an attacker (or a broken client) sends: none of it may reach a 500 or an error in
 * the log; each gets the contract's 400 (management: `invalid_request` with `details`;
 * OAuth: RFC 6749 §5.2) or `invalid_client`.
 */
describe.each(testDatabases())('hostile input on $name', (db) => {
  let p: TestPortcullis;
  let root: Caller;
  let seeded: SeededClient;
  const errors: string[] = [];

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), {
      env: { LOG_LEVEL: 'warn', AUTH_FAILURES_PER_IP: '100000', AUTH_FAILURES_PER_CLIENT: '100000' },
      logStream: {
        write(line) {
          if ((JSON.parse(line) as { level: number }).level >= 50) errors.push(line);
        },
      },
    });
    await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
    root = await signIn(p.app, 'root@example.com');
    seeded = await seedClient(p.runtime);
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  const expectInvalidRequest = (res: { statusCode: number; json(): unknown }, field?: string) => {
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: string; details?: { field: string }[] };
    expect(body.error).toBe('invalid_request');
    expect(body.details?.length).toBeGreaterThan(0);
    if (field) expect(body.details?.map((d) => d.field)).toContain(field);
  };

  describe('OAuth endpoints: a NUL byte in client_id with a well-formed secret is invalid_client', () => {
    it('uses a secret that passes the format and checksum check (so the lookup would run)', () => {
      expect(isWellFormedSecret(WELL_FORMED)).toBe(true);
    });
    for (const url of ['/oauth/token', '/oauth/introspect', '/oauth/revoke']) {
      const params = { grant_type: 'client_credentials', audience: 'https://x.example/', token: 'abc' };
      it(`${url}, in the body`, async () => {
        const res = await p.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: form({ ...params, client_id: `a${NUL}b`, client_secret: WELL_FORMED }),
        });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: 'invalid_client' });
        expect(res.headers['cache-control']).toBe('no-store');
      });
      it(`${url}, in Basic`, async () => {
        const res = await p.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(`a${NUL}b`, WELL_FORMED) }, payload: form(params) });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: 'invalid_client' });
      });
    }
  });

  describe('path parameters', () => {
    const paths = (): [string, string][] => [
      ['GET', '/users/%00'],
      ['GET', '/organizations/%00'],
      ['DELETE', `/organizations/${seeded.orgId}/members/%00`],
      ['GET', '/apis/%00'],
      ['GET', `/organizations/${seeded.orgId}/clients/%00`],
    ];
    it('a NUL byte is a 400 naming the parameter', async () => {
      for (const [method, path] of paths()) expectInvalidRequest(await call(p.app, root, method as 'GET', path));
    });
    it('a lone surrogate (and other invalid UTF-8) is a 400', async () => {
      for (const [method, path] of paths()) {
        const res = await call(p.app, root, method as 'GET', path.replace('%00', '%ED%A0%80'));
        expect(res.statusCode, path).toBe(400);
        expect((res.json() as { error: string }).error).toBe('invalid_request');
      }
    });
  });

  describe('JSON string fields', () => {
    for (const [what, bad] of [
      ['a NUL byte', `x${NUL}y`],
      ['a lone surrogate', `x${LONE}y`],
      ['a right-to-left override', '\u202Enimda'],
      ['a control character', 'line\nbreak'],
    ] as const) {
      it(`${what} in a name is a 400 and creates nothing`, async () => {
        const before = (await call(p.app, root, 'GET', '/organizations?limit=200')).json() as { data: unknown[] };
        expectInvalidRequest(await call(p.app, root, 'POST', '/organizations', { name: bad }), '/body/name');
        expectInvalidRequest(await call(p.app, root, 'POST', '/users', { email: 'new@example.com', name: bad }), '/body/name');
        expectInvalidRequest(await call(p.app, root, 'POST', `/organizations/${seeded.orgId}/clients`, { name: bad, roles: [] }), '/body/name');
        expectInvalidRequest(await call(p.app, root, 'POST', '/roles', { name: bad, permissions: [] }), '/body/name');
        expectInvalidRequest(await call(p.app, root, 'POST', '/apis', { identifier: 'https://new.example/', name: bad, permissions: [] }), '/body/name');
        const after = (await call(p.app, root, 'GET', '/organizations?limit=200')).json() as { data: unknown[] };
        expect(after.data.length).toBe(before.data.length);
      });
    }

    it('a NUL byte or a lone surrogate in the sign-in email is a 400', async () => {
      for (const email of [`root${NUL}@example.com`, `root${LONE}@example.com`]) {
        expectInvalidRequest(await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password: PASSWORD } }), '/body/email');
      }
    });

    it('a NUL byte in an API identifier or a description is a 400', async () => {
      expectInvalidRequest(await call(p.app, root, 'POST', '/apis', { identifier: `https://a${NUL}.example/`, name: 'A', permissions: [] }), '/body/identifier');
      expectInvalidRequest(await call(p.app, root, 'POST', '/roles', { name: 'R', description: `d${NUL}`, permissions: [] }), '/body/description');
    });

    it('names are stored in Unicode NFC', async () => {
      const res = await call(p.app, root, 'POST', '/organizations', { name: 'Cafe\u0301' });
      expect(res.statusCode).toBe(201);
      expect((res.json() as { name: string }).name).toBe('Caf\u00e9');
    });
  });

  describe('lists', () => {
    const lists = () => ['/organizations', '/users', `/organizations/${seeded.orgId}/clients`, `/organizations/${seeded.orgId}/audit-events`, `/organizations/${seeded.orgId}/members`];
    it('a limit that is huge, not a number, negative or a fraction is a 400', async () => {
      for (const list of lists())
        for (const limit of ['1e309', 'NaN', '-1', '0.5', '0', '201', 'Infinity']) expectInvalidRequest(await call(p.app, root, 'GET', `${list}?limit=${limit}`), '/querystring/limit');
    });
    it('a forged or malformed cursor is a 400', async () => {
      const forged = [
        'WyIxIiwieCJd', // ["1","x"]
        encodeCursor({ at: '2025-02-30T00:00:00.000Z', id: 'x' }), // no 30 February
        encodeCursor({ at: '+275760-09-13T00:00:00.000Z', id: 'x' }), // beyond PostgreSQL's years
        encodeCursor({ at: '2025-01-01T00:00:00.000Z', id: `x${NUL}` }),
        Buffer.from('not json').toString('base64url'),
        '%%%',
        '12345678901234567890', // an audit cursor past bigint
      ];
      for (const list of lists()) for (const cursor of forged) expect((await call(p.app, root, 'GET', `${list}?cursor=${encodeURIComponent(cursor)}`)).statusCode, `${list} ${cursor}`).toBe(400);
    });
    it('a query string still coerces what it carries as text', async () => {
      const res = await call(p.app, root, 'GET', '/organizations?limit=1');
      expect(res.statusCode).toBe(200);
      expect((res.json() as { data: unknown[] }).data).toHaveLength(1);
    });
  });

  describe('strict bodies', () => {
    it('a boolean or a numeric string for a number of seconds is a 400, not a grace period', async () => {
      const { client } = await p.runtime.clients.create(seeded.orgId, { name: 'strict', roles: [] }, SYSTEM_ACTOR);
      const rotate = `/organizations/${seeded.orgId}/clients/${client.client_id}/secret/rotate`;
      for (const value of [true, '60', 1.5, null]) expectInvalidRequest(await call(p.app, root, 'POST', rotate, { grace_period_seconds: value }), '/body/grace_period_seconds');
      expect((await p.runtime.clients.get(seeded.orgId, client.client_id)).secret_hint).toBe(client.secret_hint);
    });
    it('an anonymous caller gets 401 before any validation detail', async () => {
      const res = await call(p.app, anonymous, 'POST', `/organizations/${seeded.orgId}/clients`, { name: 7, roles: 'x' });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    });
  });

  describe('cross-site requests', () => {
    it('sign-in accepts JSON only: a form-encoded body (what a foreign page can post) is refused', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/v1/session',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ email: 'root@example.com', password: PASSWORD }),
      });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
      expect(res.headers['set-cookie']).toBeUndefined();
    });
    it('an unsafe request from another origin or site is refused, whatever its credentials', async () => {
      for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'null' }]) {
        const login = await p.app.inject({ method: 'POST', url: '/api/v1/session', headers, payload: { email: 'root@example.com', password: PASSWORD } });
        expect(login.statusCode, JSON.stringify(headers)).toBe(403);
        expect(login.headers['set-cookie']).toBeUndefined();
        const change = await p.app.inject({ method: 'POST', url: '/api/v1/organizations', headers: { ...root.headers('POST'), ...headers }, payload: { name: 'CSRF' } });
        expect(change.statusCode).toBe(403);
      }
    });
    it('this server’s own origin passes', async () => {
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/v1/session',
        headers: { origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' },
        payload: { email: 'root@example.com', password: PASSWORD },
      });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('RFC 6750 §3 challenges', () => {
    it('no credentials: 401 with WWW-Authenticate: Bearer and no error code', async () => {
      const res = await call(p.app, anonymous, 'GET', '/me');
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="portcullis"');
    });
    it('an invalid, expired or malformed bearer token: 401 with error="invalid_token" (or invalid_request)', async () => {
      const invalid = await p.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' } });
      expect(invalid.statusCode).toBe(401);
      expect(invalid.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="[^"]+"$/);
      const malformed = await p.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Bearer a b' } });
      expect(malformed.statusCode).toBe(401);
      expect(malformed.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis", error="invalid_request"/);
    });
  });

  it('logged nothing at error level', () => {
    expect(errors).toEqual([]);
  });
});
