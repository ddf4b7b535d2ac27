import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { generateSecret } from '../../src/clients/secret.js';
import { testDatabases } from '../helpers/databases.js';
import { createUser, PASSWORD, signIn } from '../helpers/management.js';
import { basic, seedClient, startPortcullis, type SeededClient, type TestPortcullis } from '../helpers/portcullis.js';

/**
 * One explicit request per failure class the fuzz suite (./routes.test.ts) found, each
 * with the answer the contract asks for (docs/http-api.md): the management API's 400
 * `invalid_request` with `details` naming the bad input, the OAuth endpoints' RFC 6749
 * §5.2 `invalid_request` or `invalid_client` with `Cache-Control: no-store`, and nothing
 * logged at error level. Each fix can be checked on its own: `npx vitest run
 * test/fuzz/known-500s.test.ts -t 'limit=1e309'`. FUZZ-FINDINGS.md has the list.
 */

interface LogLine {
  level: number;
  msg?: string;
  err?: { message?: string };
}

const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const json = { 'content-type': 'application/json' };
const formType = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(testDatabases())('known failure classes on $name', (db) => {
  let p: TestPortcullis;
  const logs: LogLine[] = [];
  let setupToken: string;

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), {
      env: { LOG_LEVEL: 'warn', TOKEN_RATE_LIMIT: '0', MANAGEMENT_RATE_LIMIT: '0' },
      logStream: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
    });
    // While no user exists, the first-run setup link works.
    setupToken = new URL((await p.runtime.users.setupLink()) ?? 'http://x/').searchParams.get('token') ?? '';
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  /** The answer to one request, and what it logged at error level (pino's 50 and up). */
  async function send(method: string, url: string, opts: { headers?: Record<string, string>; payload?: string | object } = {}) {
    const mark = logs.length;
    const res = await p.app.inject({ method: method as 'GET', url, headers: opts.headers ?? {}, ...(opts.payload !== undefined ? { payload: opts.payload } : {}) });
    const errors = logs
      .slice(mark)
      .filter((l) => l.level >= 50)
      .map((l) => `${l.msg}: ${l.err?.message}`);
    return { res, errors };
  }

  /** The management API's 400: `invalid_request`, with a detail whose field is `field` (a JSON pointer into the request). */
  function expectInvalidRequest({ res, errors }: { res: LightMyRequestResponse; errors: string[] }, field: string | undefined) {
    expect({ status: res.statusCode, loggedAtErrorLevel: errors }, res.body).toEqual({ status: 400, loggedAtErrorLevel: [] });
    const body = res.json() as { error: string; message: string; details?: { field: string; message: string }[] };
    expect(
      Object.keys(body).every((k) => ['error', 'message', 'details'].includes(k)),
      res.body,
    ).toBe(true);
    expect(body.error).toBe('invalid_request');
    expect(typeof body.message).toBe('string');
    if (field === undefined) return;
    expect(body.details, res.body).toBeInstanceOf(Array);
    expect(
      body.details?.map((d) => d.field),
      res.body,
    ).toContain(field);
  }

  /** The OAuth endpoints' refusal (RFC 6749 §5.2): invalid_request (400) or invalid_client (401), not to be cached. */
  function expectOAuthRefusal({ res, errors }: { res: LightMyRequestResponse; errors: string[] }) {
    expect({ status: res.statusCode === 401 ? 401 : res.statusCode, loggedAtErrorLevel: errors }, res.body).toEqual({ status: res.statusCode === 401 ? 401 : 400, loggedAtErrorLevel: [] });
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { error: string; error_description: string };
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
    expect(body.error).toBe(res.statusCode === 401 ? 'invalid_client' : 'invalid_request');
  }

  // Before any user exists: the setup link only works then.
  it('POST /api/v1/setup with name containing \\u0000', async () => {
    expectInvalidRequest(await send('POST', '/api/v1/setup', { payload: { token: setupToken, email: 'root@example.com', name: 'a\u0000b', password: PASSWORD } }), '/body/name');
  });

  describe('with an organization, a client, a signed-in platform admin and a member', () => {
    let c: SeededClient;
    let apiId: string;
    let memberId: string;
    let inviteToken: string;
    let admin: (method: string) => Record<string, string>;
    const wellFormedSecret = generateSecret();

    beforeAll(async () => {
      c = await seedClient(p.runtime, { refreshTokens: true });
      const apis = await p.runtime.catalogService.listApis();
      apiId = apis.find((a) => a.identifier === c.apiIdentifier)?.id ?? '';
      await createUser(p.runtime, 'admin@example.com', { platformAdmin: true });
      memberId = (await createUser(p.runtime, 'member@example.com', { orgId: c.orgId })).id;
      const created = await p.runtime.users.create({ email: 'invitee@example.com' }, SYSTEM_ACTOR);
      inviteToken = new URL(('invite_url' in created ? created.invite_url : undefined) ?? 'http://x/').searchParams.get('token') ?? '';
      const session = await signIn(p.app, 'admin@example.com');
      admin = (method) => session.headers(method);
    });

    /** A URL with the fixtures' ids in place of {org}, {client}, {user}, {api} and {role}. */
    const fill = (url: string) => url.replace('{org}', c.orgId).replace('{client}', c.clientId).replace('{user}', memberId).replace('{api}', apiId).replace('{role}', c.roleId);

    /** A request as the platform admin (session cookie, and the CSRF token on unsafe methods). */
    const asAdmin = (method: string, url: string, payload?: object) => send(method, url, { headers: { ...admin(method), ...(payload ? json : {}) }, ...(payload ? { payload } : {}) });

    describe('\\u0000 in a path parameter reaches PostgreSQL (invalid byte sequence for encoding "UTF8": 0x00)', () => {
      // [method, url with %00 where the parameter goes, the parameter, a body the route accepts]
      const cases: [string, string, string, object?][] = [
        ['GET', '/api/v1/organizations/%00', 'org'],
        ['PATCH', '/api/v1/organizations/%00', 'org', { name: 'Renamed' }],
        ['DELETE', '/api/v1/organizations/%00', 'org'],
        ['GET', '/api/v1/organizations/%00/members', 'org'],
        ['POST', '/api/v1/organizations/%00/members', 'org', { email: 'new@example.com', role: 'member' }],
        ['PATCH', '/api/v1/organizations/%00/members/{user}', 'org', { role: 'admin' }],
        ['DELETE', '/api/v1/organizations/%00/members/{user}', 'org'],
        ['PATCH', '/api/v1/organizations/{org}/members/%00', 'user', { role: 'admin' }],
        ['DELETE', '/api/v1/organizations/{org}/members/%00', 'user'],
        ['GET', '/api/v1/organizations/%00/roles', 'org'],
        ['GET', '/api/v1/organizations/%00/clients', 'org'],
        ['POST', '/api/v1/organizations/%00/clients', 'org', { name: 'daemon', roles: [] }],
        ['GET', '/api/v1/organizations/%00/clients/{client}', 'org'],
        ['GET', '/api/v1/organizations/{org}/clients/%00', 'client_id'],
        ['PATCH', '/api/v1/organizations/{org}/clients/%00', 'client_id', { name: 'renamed' }],
        ['DELETE', '/api/v1/organizations/{org}/clients/%00', 'client_id'],
        ['PUT', '/api/v1/organizations/{org}/clients/%00/roles', 'client_id', { roles: [] }],
        ['POST', '/api/v1/organizations/{org}/clients/%00/secret/rotate', 'client_id', {}],
        ['POST', '/api/v1/organizations/%00/clients/{client}/secret/rotate', 'org', {}],
        ['GET', '/api/v1/organizations/%00/audit-events', 'org'],
        ['GET', '/api/v1/users/%00', 'user'],
        ['PATCH', '/api/v1/users/%00', 'user', { name: 'x' }],
        ['DELETE', '/api/v1/users/%00', 'user'],
        ['GET', '/api/v1/apis/%00', 'api'],
        ['PATCH', '/api/v1/apis/%00', 'api', { name: 'x' }],
        ['DELETE', '/api/v1/apis/%00', 'api'],
      ];
      it.each(cases)('%s %s (:%s)', async (method, url, param, payload) => {
        expectInvalidRequest(await asAdmin(method, fill(url), payload), `/params/${param}`);
      });
    });

    describe('\\u0000 in a JSON string field reaches PostgreSQL (invalid byte sequence for encoding "UTF8": 0x00)', () => {
      const cases: [string, string, string, object][] = [
        ['POST', '/api/v1/organizations', '/body/name', { name: 'a\u0000b' }],
        ['PATCH', '/api/v1/organizations/{org}', '/body/name', { name: 'a\u0000b' }],
        ['POST', '/api/v1/apis', '/body/identifier', { identifier: 'https://nul\u0000.example.com/', name: 'n', permissions: [] }],
        ['POST', '/api/v1/apis', '/body/name', { identifier: 'https://nul-name.example.com/', name: 'a\u0000b', permissions: [] }],
        ['POST', '/api/v1/apis', '/body/permissions/0/description', { identifier: 'https://nul-desc.example.com/', name: 'n', permissions: [{ value: 'a:b', description: '\u0000' }] }],
        ['PATCH', '/api/v1/apis/{api}', '/body/name', { name: 'a\u0000b' }],
        ['PATCH', '/api/v1/apis/{api}', '/body/permissions/0/description', { permissions: [{ value: 'a:b', description: '\u0000' }] }],
        ['POST', '/api/v1/roles', '/body/name', { name: 'a\u0000b', permissions: [] }],
        ['POST', '/api/v1/roles', '/body/description', { name: 'nul description', description: '\u0000', permissions: [] }],
        ['POST', '/api/v1/roles', '/body/permissions/0/api', { name: 'nul api', permissions: [{ api: '\u0000', value: 'a:b' }] }],
        ['PATCH', '/api/v1/roles/{role}', '/body/name', { name: 'a\u0000b' }],
        ['PATCH', '/api/v1/roles/{role}', '/body/description', { description: 'a\u0000b' }],
        ['PATCH', '/api/v1/roles/{role}', '/body/permissions/0/api', { permissions: [{ api: '\u0000', value: 'a:b' }] }],
        ['POST', '/api/v1/users', '/body/name', { email: 'nul-name@example.com', name: 'a\u0000b' }],
        ['PATCH', '/api/v1/users/{user}', '/body/name', { name: 'a\u0000b' }],
        ['POST', '/api/v1/organizations/{org}/clients', '/body/name', { name: 'a\u0000b', roles: [] }],
        ['PATCH', '/api/v1/organizations/{org}/clients/{client}', '/body/name', { name: 'a\u0000b' }],
      ];
      it.each(cases)('%s %s (%s)', async (method, url, field, payload) => {
        expectInvalidRequest(await asAdmin(method, fill(url), payload), field);
      });

      it('POST /api/v1/session with email containing \\u0000 (no credentials needed)', async () => {
        expectInvalidRequest(await send('POST', '/api/v1/session', { headers: json, payload: { email: 'a\u0000b', password: 'whatever' } }), '/body/email');
      });

      it('POST /api/v1/invites/accept with name containing \\u0000 (a valid invitation)', async () => {
        expectInvalidRequest(await send('POST', '/api/v1/invites/accept', { headers: json, payload: { token: inviteToken, password: PASSWORD, name: 'a\u0000b' } }), '/body/name');
      });
    });

    describe('a lone surrogate in a JSON string field breaks the audit event (invalid input syntax for type json)', () => {
      const cases: [string, string, string, object][] = [
        ['POST', '/api/v1/organizations', '/body/name', { name: '\ud800' }],
        ['POST', '/api/v1/apis', '/body/identifier', { identifier: 'https://surrogate.example.com/\ud800', name: 'n', permissions: [] }],
        ['POST', '/api/v1/apis', '/body/name', { identifier: 'https://surrogate-name.example.com/', name: '\udc00', permissions: [] }],
        ['POST', '/api/v1/roles', '/body/name', { name: 'x\ud800y', permissions: [] }],
        ['POST', '/api/v1/organizations/{org}/clients', '/body/name', { name: '\ud800', roles: [] }],
      ];
      it.each(cases)('%s %s (%s)', async (method, url, field, payload) => {
        expectInvalidRequest(await asAdmin(method, fill(url), payload), field);
      });
    });

    describe('"1e309" in a number field: Ajv coerces it to ±Infinity past minimum and maximum', () => {
      it.each([
        ['/api/v1/users?limit=1e309'],
        ['/api/v1/users?limit=-1e309'],
        ['/api/v1/organizations?limit=1e309'],
        ['/api/v1/organizations/{org}/clients?limit=1e309'],
        ['/api/v1/organizations/{org}/audit-events?limit=1e309'],
      ])('GET %s (invalid input syntax for type bigint: "Infinity")', async (url) => {
        expectInvalidRequest(await asAdmin('GET', fill(url)), '/querystring/limit');
      });

      it('POST …/clients/:client_id/secret/rotate with grace_period_seconds "1e309" (RangeError: Invalid time value / invalid timestamp)', async () => {
        expectInvalidRequest(await asAdmin('POST', `/api/v1/organizations/${c.orgId}/clients/${c.clientId}/secret/rotate`, { grace_period_seconds: '1e309' }), '/body/grace_period_seconds');
      });

      it('POST …/clients/:client_id/secret/rotate with grace_period_seconds "-1e309" (accepted although minimum is 0)', async () => {
        expectInvalidRequest(await asAdmin('POST', `/api/v1/organizations/${c.orgId}/clients/${c.clientId}/secret/rotate`, { grace_period_seconds: '-1e309' }), '/body/grace_period_seconds');
      });

      it('POST /api/v1/apis with access_token_ttl "1e309" (invalid input syntax for type integer: "Infinity")', async () => {
        expectInvalidRequest(
          await asAdmin('POST', '/api/v1/apis', { identifier: 'https://infinite-ttl.example.com/', name: 'n', permissions: [], access_token_ttl: '1e309' }),
          '/body/access_token_ttl',
        );
      });

      it('PATCH /api/v1/apis/:api with access_token_ttl "1e309" (invalid input syntax for type integer: "Infinity")', async () => {
        expectInvalidRequest(await asAdmin('PATCH', `/api/v1/apis/${apiId}`, { access_token_ttl: '1e309' }), '/body/access_token_ttl');
      });
    });

    describe('a forged cursor that Date.parse accepts but PostgreSQL does not', () => {
      const forged: [string, string][] = [
        ['["1","x"] (WyIxIiwieCJd): invalid input syntax for type timestamp with time zone', 'WyIxIiwieCJd'],
        ['an impossible date, 2024-02-30: date/time field value out of range', cursor(['2024-02-30T00:00:00.000Z', 'x'])],
        ['year 0000: date/time field value out of range', cursor(['0000-01-01T00:00:00.000Z', 'x'])],
        ['year +275760: time zone displacement out of range', cursor(['+275760-09-13T00:00:00.000Z', 'x'])],
        ['year +010000: time zone displacement out of range', cursor(['+010000-01-01T00:00:00.000Z', 'x'])],
        ['\\u0000 in the id: invalid byte sequence for encoding "UTF8"', cursor(['2024-01-01T00:00:00.000Z', '\u0000'])],
        ['\\u0000 in the date: invalid byte sequence for encoding "UTF8"', cursor(['2024-01-01\u0000', 'x'])],
      ];
      const lists = ['/api/v1/users', '/api/v1/organizations', '/api/v1/organizations/{org}/clients'];
      it.each(lists.flatMap((list) => forged.map(([what, text]): [string, string, string] => [list, what, text])))('GET %s?cursor= %s', async (list, _what, text) => {
        expectInvalidRequest(await asAdmin('GET', `${fill(list)}?cursor=${text}`), '/querystring/cursor');
      });
    });

    describe('\\u0000 in client_id, with a well-formed pcs_ secret, reaches PostgreSQL at the OAuth endpoints', () => {
      const endpoints: [string, string][] = [
        ['/oauth/token', 'grant_type=client_credentials'],
        ['/oauth2/token', 'grant_type=client_credentials'],
        ['/oauth/introspect', 'token=x'],
        ['/oauth/revoke', 'token=x'],
      ];
      it.each(endpoints)('POST %s, client_id in the body (%s)', async (url, params) => {
        expectOAuthRefusal(await send('POST', url, { headers: formType, payload: `${params}&client_id=a%00b&client_secret=${wellFormedSecret}` }));
      });
      it.each(endpoints)('POST %s, client_id in Authorization: Basic (%s)', async (url, params) => {
        expectOAuthRefusal(await send('POST', url, { headers: { ...formType, authorization: basic('a\u0000b', wellFormedSecret) }, payload: params }));
      });
      it('POST /oauth/token, client_id in a JSON body', async () => {
        expectOAuthRefusal(await send('POST', '/oauth/token', { headers: json, payload: { grant_type: 'client_credentials', client_id: '\u0000', client_secret: wellFormedSecret } }));
      });
      it('POST /oauth/token, client_id unencoded in Authorization: Basic', async () => {
        expectOAuthRefusal(await send('POST', '/oauth/token', { headers: { ...formType, authorization: basic('a\u0000b', wellFormedSecret, false) }, payload: 'grant_type=client_credentials' }));
      });
    });

    describe("Fastify's own errors bypass the contract's error shape (4xx, not 5xx)", () => {
      it.each([
        ['GET', '/api/v1/organizations/%zz'],
        ['GET', '/api/v1/organizations/%E0%A4%A'],
        ['DELETE', '/api/v1/organizations/%ED%A0%80'],
        ['GET', '/docs/static/%'],
        ['GET', '/%zz'],
      ])('%s %s: malformed percent-encoding in the path answers FST_ERR_BAD_URL', async (method, url) => {
        expectInvalidRequest(await asAdmin(method, url), undefined);
      });

      it('DELETE /api/v1/organizations/:org with a 129-character id: 414 FST_ERR_MAX_PARAM_LENGTH instead of a 400 for the schema (maxLength 128)', async () => {
        expectInvalidRequest(await asAdmin('DELETE', `/api/v1/organizations/${'x'.repeat(129)}`), '/params/org');
      });

      it('PATCH /api/v1/organizations/:org with a 120-character id the schema allows: 414 FST_ERR_MAX_PARAM_LENGTH instead of 404', async () => {
        const { res, errors } = await asAdmin('PATCH', `/api/v1/organizations/${'x'.repeat(120)}`, { name: 'x' });
        expect({ status: res.statusCode, loggedAtErrorLevel: errors }, res.body).toEqual({ status: 404, loggedAtErrorLevel: [] });
        expect(res.json()).toMatchObject({ error: 'not_found' });
      });
    });
  });
});
