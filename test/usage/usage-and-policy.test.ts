import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { testDatabases } from '../helpers/databases.js';
import { call, createUser, signIn, type Caller } from '../helpers/management.js';
import { seedClient, startPortcullis, type SeededClient, type TestPortcullis } from '../helpers/portcullis.js';
import { tokenRequest, verifyAccessToken } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

const HOUR = 3600_000;

describe.each(testDatabases())('usage, quotas and organization policy on $name', (db) => {
  let p: TestPortcullis;
  let n = 0;
  /** Signed in afresh: tests move the clock past session lifetimes. */
  const root = { label: 'root', headers: () => ({}) } as Caller;
  async function signInRoot() {
    Object.assign(root, await signIn(p.app, 'root@example.com'));
  }

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), { env: { TOKEN_RATE_LIMIT: '0' } });
    await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
  });
  beforeEach(signInRoot);
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  /** A seeded organization with an admin and a member signed in. */
  async function org(opts: Parameters<typeof seedClient>[1] = {}) {
    const seeded = await seedClient(p.runtime, opts);
    const i = ++n;
    await createUser(p.runtime, `admin${i}@example.com`, { orgId: seeded.orgId, role: 'admin' });
    await createUser(p.runtime, `member${i}@example.com`, { orgId: seeded.orgId, role: 'member' });
    return { ...seeded, admin: await signIn(p.app, `admin${i}@example.com`), member: await signIn(p.app, `member${i}@example.com`) };
  }
  const token = (c: { clientId: string; secret: string }, audience: string, extra: Record<string, string> = {}) => tokenRequest(p.app, c, { grant_type: 'client_credentials', audience, ...extra });

  describe('usage', () => {
    it('counts tokens, redundant tokens and failures by error code per hour; empty buckets included, oldest first', async () => {
      const o = await org();
      for (let i = 0; i < 3; i++) expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      expect((await token({ clientId: o.clientId, secret: tampered(o.secret) }, o.apiIdentifier)).statusCode).toBe(401);
      expect((await token(o, o.apiIdentifier, { scope: 'nope' })).statusCode).toBe(400);
      expect((await token(o, 'https://unknown.example.com/')).statusCode).toBe(400);
      await p.runtime.usageCounter.flush();

      const res = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      const hour = p.clock.now().getTime() - (p.clock.now().getTime() % HOUR);
      expect(body.client_id).toBe(o.clientId);
      expect(body.granularity).toBe('hour');
      expect(body.data).toHaveLength(24);
      expect(body.data[0].start).toBe(new Date(hour - 23 * HOUR).toISOString());
      expect(body.data.slice(0, 23).every((b: { tokens: number; failed: number }) => b.tokens === 0 && b.failed === 0)).toBe(true);
      expect(body.data[23]).toEqual({ start: new Date(hour).toISOString(), tokens: 3, failed: 3 });
      // The second and third token came while the first still had more than half its life.
      expect(body.redundant_tokens).toBe(2);
      expect(body.failed_by_error).toEqual({ invalid_client: 1, invalid_scope: 1, invalid_target: 1 });
    });

    it('a token after half the previous one’s lifetime is not redundant', async () => {
      const o = await org({ ttl: 600 });
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      p.clock.advance(301);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      p.clock.advance(10);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      await p.runtime.usageCounter.flush();
      const res = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage`);
      expect(res.json().redundant_tokens).toBe(1);
    });

    it('by day, within from and to; a range too long or reversed is 400; another organization’s client is 404', async () => {
      const o = await org();
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      await p.runtime.usageCounter.flush();
      const today = p.clock.now().toISOString().slice(0, 10);
      const res = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?granularity=day&from=${today}T00:00:00Z&to=${today}T23:59:59Z`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().data).toEqual([{ start: `${today}T00:00:00.000Z`, tokens: 1, failed: 0 }]);
      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?granularity=day`)).json().data).toHaveLength(30);

      const long = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z`);
      expect(long.statusCode).toBe(400);
      expect(long.json()).toMatchObject({ error: 'invalid_request', details: [{ field: '/querystring/to', message: 'range too long' }] });
      const reversed = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z`);
      expect(reversed.statusCode).toBe(400);
      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?from=yesterday`)).statusCode).toBe(400);
      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?granularity=week`)).statusCode).toBe(400);

      const other = await org();
      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${other.clientId}/usage`)).statusCode).toBe(404);
      expect((await call(p.app, o.member, 'GET', `/organizations/${other.orgId}/clients/${other.clientId}/usage`)).statusCode).toBe(404);
    });

    it('the organization’s usage: admins only, JSON by bucket and client, CSV for chargeback', async () => {
      const o = await org();
      const second = await p.runtime.clients.create(o.orgId, { name: 'Billing, "east"', roles: [o.roleId] }, SYSTEM_ACTOR);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      expect((await token({ clientId: second.client.client_id, secret: second.client_secret }, o.apiIdentifier)).statusCode).toBe(200);
      expect((await token({ clientId: second.client.client_id, secret: second.client_secret }, o.apiIdentifier)).statusCode).toBe(200);
      await p.runtime.usageCounter.flush();

      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/usage`)).statusCode).toBe(403);
      const res = await call(p.app, o.admin, 'GET', `/organizations/${o.orgId}/usage`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.data).toHaveLength(24);
      expect(body.data[23]).toMatchObject({ tokens: 3, failed: 0 });
      const byId = Object.fromEntries(body.clients.map((c: { client_id: string }) => [c.client_id, c]));
      expect(byId[o.clientId]).toEqual({ client_id: o.clientId, name: expect.any(String), tokens: 1, failed: 0, redundant_tokens: 0 });
      expect(byId[second.client.client_id]).toEqual({ client_id: second.client.client_id, name: 'Billing, "east"', tokens: 2, failed: 0, redundant_tokens: 1 });

      const csv = await p.app.inject({ method: 'GET', url: `/api/v1/organizations/${o.orgId}/usage`, headers: { ...o.admin.headers('GET'), accept: 'text/csv' } });
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      const hour = new Date(p.clock.now().getTime() - (p.clock.now().getTime() % HOUR)).toISOString();
      const lines = csv.body.trimEnd().split('\r\n');
      expect(lines[0]).toBe('start,granularity,client_id,name,tokens,failed,redundant_tokens');
      expect(lines.slice(1).sort()).toEqual([`${hour},hour,${o.clientId},${byId[o.clientId].name},1,0,0`, `${hour},hour,${second.client.client_id},"Billing, ""east""",2,0,1`].sort());
    });
  });

  it('housekeeping forgets usage older than USAGE_RETENTION_DAYS (90) and keeps the rest', async () => {
    const o = await org();
    expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
    await p.runtime.usageCounter.flush();
    const today = () =>
      call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage?granularity=day&from=${new Date(start).toISOString()}&to=${new Date(start + 1).toISOString()}`);
    const start = p.clock.now().getTime();
    p.clock.advance(89 * 86400);
    await p.runtime.housekeeping.run();
    o.member = await signIn(p.app, o.member.label);
    expect((await today()).json().data[0].tokens).toBe(1);
    p.clock.advance(2 * 86400);
    await p.runtime.housekeeping.run();
    o.member = await signIn(p.app, o.member.label);
    expect((await today()).json().data[0].tokens).toBe(0);
  });

  describe('quotas', () => {
    it('a client over its quota gets 429 quota_exceeded with Retry-After until the hour ends; refusals are counted in /metrics', async () => {
      const o = await org();
      const patched = await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_quota: { limit: 2, per: 'hour' } });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().token_quota).toEqual({ limit: 2, per: 'hour' });
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      // A refused request does not use the quota up.
      expect((await token(o, o.apiIdentifier, { scope: 'nope' })).statusCode).toBe(400);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      const refused = await token(o, o.apiIdentifier);
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toEqual({ error: 'quota_exceeded', error_description: "The client's token quota (2 per hour) is used up; retry after the window ends." });
      expect(refused.headers['cache-control']).toBe('no-store');
      const now = p.clock.now().getTime();
      expect(refused.headers['retry-after']).toBe(String(Math.max(1, Math.ceil((HOUR - (now % HOUR)) / 1000))));
      const metrics = await p.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toContain(`portcullis_quota_refusals_total{client_id="${o.clientId}"} 1`);
      await p.runtime.usageCounter.flush();
      const usage = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}/usage`);
      expect(usage.json().failed_by_error).toEqual({ invalid_scope: 1, quota_exceeded: 1 });
      // The next hour has room again.
      p.clock.advance((HOUR - (now % HOUR)) / 1000 + 1);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
    });

    it('the organization’s quota counts all its clients; a client quota above it is refused', async () => {
      const o = await org();
      const second = await p.runtime.clients.create(o.orgId, { name: 'Second', roles: [o.roleId] }, SYSTEM_ACTOR);
      const put = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { token_quota: { limit: 3, per: 'day' } });
      expect(put.statusCode, put.body).toBe(200);
      const other = { clientId: second.client.client_id, secret: second.client_secret };
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      expect((await token(other, o.apiIdentifier)).statusCode).toBe(200);
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      const refused = await token(other, o.apiIdentifier);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error_description).toBe("The organization's token quota (3 per day) is used up; retry after the window ends.");
      const now = p.clock.now().getTime();
      expect(refused.headers['retry-after']).toBe(String(Math.ceil((86400_000 - (now % 86400_000)) / 1000)));

      const tooBig = await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_quota: { limit: 1, per: 'hour' } });
      expect(tooBig.statusCode).toBe(400);
      expect(tooBig.json()).toMatchObject({ error: 'invalid_request', details: [{ field: '/body/token_quota' }] });
      expect((await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_quota: { limit: 3, per: 'day' } })).statusCode).toBe(200);
      expect((await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_quota: { limit: 0, per: 'day' } })).statusCode).toBe(400);
    });
  });

  describe('policy', () => {
    it('GET for org admins, PUT for platform admins, audited, with the defaults for what PUT leaves out', async () => {
      const o = await org();
      const get = await call(p.app, o.admin, 'GET', `/organizations/${o.orgId}/policy`);
      expect(get.statusCode).toBe(200);
      expect(get.json()).toEqual({
        assignable_roles: null,
        max_clients: null,
        token_quota: null,
        max_access_token_ttl: null,
        refresh_tokens_allowed: true,
        secret_max_age_days: null,
        client_count: 1,
        out_of_policy: [],
      });
      expect((await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/policy`)).statusCode).toBe(403);
      expect((await call(p.app, o.admin, 'PUT', `/organizations/${o.orgId}/policy`, { max_clients: 5 })).statusCode).toBe(403);
      const put = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { max_clients: 5, max_access_token_ttl: 300 });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ max_clients: 5, max_access_token_ttl: 300, refresh_tokens_allowed: true, assignable_roles: null });
      const unknown = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { assignable_roles: ['no-such-role'] });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().message).toBe('Unknown roles: no-such-role.');
      const audit = await call(p.app, o.admin, 'GET', `/organizations/${o.orgId}/audit-events`);
      const event = audit.json().data.find((e: { action: string }) => e.action === 'organization.policy_changed');
      expect(event).toMatchObject({ target: { type: 'organization', id: o.orgId }, details: { max_clients: { from: null, to: 5 }, max_access_token_ttl: { from: null, to: 300 } } });
      // max_access_token_ttl caps expires_in, and the token's exp with it.
      const t = await token(o, o.apiIdentifier);
      expect(t.json().expires_in).toBe(300);
      const { payload } = await verifyAccessToken(p.app, t.json().access_token, o.apiIdentifier, p.clock.now());
      expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    });

    it('assignable roles: the roles list shows only them, assigning another is 400 naming it; an existing client is listed, not stripped', async () => {
      const o = await org();
      const allowed = await p.runtime.catalogService.createRole({ name: `Allowed ${o.orgId}`, permissions: [{ api: o.apiIdentifier, value: 'meters:read' }] }, SYSTEM_ACTOR);
      const put = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { assignable_roles: [allowed.id] });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json().out_of_policy).toEqual([
        {
          client_id: o.clientId,
          name: expect.any(String),
          reasons: [{ field: 'roles', message: `role "${o.roleId}" is not assignable; it keeps its permissions until the client's roles are changed` }],
        },
      ]);
      // Not stripped: the client keeps getting tokens.
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      const roles = await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/roles`);
      expect(roles.json().data.map((r: { id: string }) => r.id)).toEqual([allowed.id]);
      const create = await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'x', roles: [allowed.id, o.roleId] });
      expect(create.statusCode).toBe(400);
      expect(create.json()).toEqual({
        error: 'invalid_request',
        message: `Not assignable in this organization (its policy): ${o.roleId}.`,
        details: [{ field: '/body/roles/1', message: `role "${o.roleId}" is not assignable in this organization` }],
      });
      expect((await call(p.app, o.admin, 'PUT', `/organizations/${o.orgId}/clients/${o.clientId}/roles`, { roles: [o.roleId] })).statusCode).toBe(400);
      expect((await call(p.app, o.admin, 'PUT', `/organizations/${o.orgId}/clients/${o.clientId}/roles`, { roles: [allowed.id] })).statusCode).toBe(200);
      expect((await call(p.app, o.admin, 'GET', `/organizations/${o.orgId}/policy`)).json().out_of_policy).toEqual([]);
    });

    it('max_clients: creating beyond it is 409 conflict', async () => {
      const o = await org();
      expect((await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { max_clients: 2 })).statusCode).toBe(200);
      expect((await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'two', roles: [] })).statusCode).toBe(201);
      const third = await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'three', roles: [] });
      expect(third.statusCode).toBe(409);
      expect(third.json()).toEqual({ error: 'conflict', message: "The organization has reached its policy's max_clients (2)." });
    });

    it('refresh tokens off on a live organization: none issued, refresh refused, refresh_tokens:true refused, the client listed', async () => {
      const o = await org({ refreshTokens: true });
      const before = await token(o, o.apiIdentifier);
      const refresh = before.json().refresh_token as string;
      expect(refresh).toEqual(expect.any(String));
      const put = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { refresh_tokens_allowed: false });
      expect(put.json().out_of_policy).toEqual([
        {
          client_id: o.clientId,
          name: expect.any(String),
          reasons: [{ field: 'refresh_tokens', message: 'refresh tokens are not allowed: the client gets none, and its refresh tokens are refused' }],
        },
      ]);
      const after = await token(o, o.apiIdentifier);
      expect(after.statusCode).toBe(200);
      expect(after.json().refresh_token).toBeUndefined();
      const refreshed = await tokenRequest(p.app, o, { grant_type: 'refresh_token', refresh_token: refresh });
      expect(refreshed.statusCode).toBe(400);
      expect(refreshed.json()).toEqual({ error: 'unauthorized_client', error_description: "The organization's policy does not allow refresh tokens." });
      const create = await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'r', roles: [], refresh_tokens: true });
      expect(create.statusCode).toBe(400);
      expect(create.json().details).toEqual([{ field: '/body/refresh_tokens', message: 'not allowed by the policy' }]);
    });

    it('secret_max_age_days: secret_expires_at says when, and then the secret fails like a rotated-away one', async () => {
      const o = await org();
      const put = await call(p.app, root, 'PUT', `/organizations/${o.orgId}/policy`, { secret_max_age_days: 1 });
      expect(put.statusCode).toBe(200);
      const client = (await call(p.app, o.member, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}`)).json();
      const created = await p.runtime.clients.get(o.orgId, o.clientId);
      expect(client.secret_expires_at).toBe(new Date(created.created_at.getTime() + 86400_000).toISOString());
      expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
      p.clock.advance(86401);
      const refused = await token(o, o.apiIdentifier);
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
      expect(refused.headers['www-authenticate']).toBe('Basic realm="portcullis", charset="UTF-8"');
      await signInRoot();
      expect((await call(p.app, root, 'GET', `/organizations/${o.orgId}/policy`)).json().out_of_policy[0].reasons).toEqual([
        { field: 'secret', message: 'the secret is older than secret_max_age_days and no longer works; rotate it' },
      ]);
      const rotated = await call(p.app, root, 'POST', `/organizations/${o.orgId}/clients/${o.clientId}/secret/rotate`, {});
      expect((await token({ clientId: o.clientId, secret: rotated.json().client_secret }, o.apiIdentifier)).statusCode).toBe(200);
    });
  });

  describe('secrets and claims', () => {
    it('retire_when_unused_seconds: the previous secret works while in use and stops once unused that long', async () => {
      const o: SeededClient = await seedClient(p.runtime);
      const admin = root;
      const rotated = await call(p.app, admin, 'POST', `/organizations/${o.orgId}/clients/${o.clientId}/secret/rotate`, { grace_period_seconds: 86400, retire_when_unused_seconds: 120 });
      expect(rotated.statusCode, rotated.body).toBe(200);
      expect(rotated.json().previous_secret).toEqual({
        secret_hint: o.secret.slice(-4),
        expires_at: rotated.json().previous_secret_expires_at,
        last_used_at: null,
        retire_when_unused_seconds: 120,
      });
      // Never used: unused since it was created, which is now; it works, and each use restarts the time.
      for (let i = 0; i < 3; i++) {
        expect((await token(o, o.apiIdentifier)).statusCode).toBe(200);
        p.clock.advance(100);
      }
      await p.runtime.usage.flush(Infinity);
      await signInRoot();
      const shown = (await call(p.app, admin, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}`)).json();
      expect(shown.previous_secret.last_used_at).toEqual(expect.any(String));
      p.clock.advance(21);
      const refused = await token(o, o.apiIdentifier);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toBe('invalid_client');
      // Retired in the database: every node refuses it, and the grace period shows its end.
      const after = (await call(p.app, admin, 'GET', `/organizations/${o.orgId}/clients/${o.clientId}`)).json();
      expect(Date.parse(after.previous_secret.expires_at)).toBe(p.clock.now().getTime());
      expect((await token({ clientId: o.clientId, secret: rotated.json().client_secret }, o.apiIdentifier)).statusCode).toBe(200);
      expect((await call(p.app, admin, 'POST', `/organizations/${o.orgId}/clients/${o.clientId}/secret/rotate`, { retire_when_unused_seconds: 10 })).statusCode).toBe(400);
    });

    it('token_claims go into the access tokens; a name the token defines, or more than 2 KB, is 400', async () => {
      const o = await org();
      const patched = await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_claims: { tenant: 'acme-eu', tier: 3, beta: true } });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().token_claims).toEqual({ tenant: 'acme-eu', tier: 3, beta: true });
      const t = await token(o, o.apiIdentifier);
      const { payload } = await verifyAccessToken(p.app, t.json().access_token, o.apiIdentifier, p.clock.now());
      expect(payload).toMatchObject({ tenant: 'acme-eu', tier: 3, beta: true, sub: o.clientId, org_id: o.orgId });

      const reserved = await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_claims: { tenant: 'x', sub: 'someone-else', cnf: 'x' } });
      expect(reserved.statusCode).toBe(400);
      expect(reserved.json()).toEqual({
        error: 'invalid_request',
        message: 'token_claims may not use "sub", "cnf": the access token defines them.',
        details: [
          { field: '/body/token_claims/sub', message: 'a claim the access token defines' },
          { field: '/body/token_claims/cnf', message: 'a claim the access token defines' },
        ],
      });
      const big = await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'big', roles: [], token_claims: { a: 'x'.repeat(1100), b: 'y'.repeat(1100) } });
      expect(big.statusCode).toBe(400);
      expect(big.json().details).toEqual([{ field: '/body/token_claims', message: 'more than 2048 bytes' }]);
      const nested = await call(p.app, o.admin, 'POST', `/organizations/${o.orgId}/clients`, { name: 'nested', roles: [], token_claims: { a: { b: 1 } } });
      expect(nested.statusCode).toBe(400);
      // Cleared with an empty object.
      expect((await call(p.app, o.admin, 'PATCH', `/organizations/${o.orgId}/clients/${o.clientId}`, { token_claims: {} })).json().token_claims).toEqual({});
    });
  });
});
