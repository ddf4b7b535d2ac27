import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, startPortcullis, type SeededClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest } from '../helpers/tokens.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function post(p: TestPortcullis, url: string, client: { clientId: string; secret: string }, params: Record<string, string>) {
  return p.app.inject({ method: 'POST', url, headers: { ...FORM, authorization: basic(client.clientId, client.secret) }, payload: form(params) });
}

function refresh(p: TestPortcullis, c: { clientId: string; secret: string }, refreshToken: string, extra: Record<string, string> = {}) {
  return post(p, '/oauth/token', c, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

describe.each(testDatabases())('refresh tokens, introspection and revocation on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started));

  async function refreshingClient(opts: Parameters<typeof seedClient>[1] = {}): Promise<SeededClient & { refreshToken: string }> {
    const c = await seedClient(p.runtime, { refreshTokens: true, ...opts });
    const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(res.statusCode).toBe(200);
    expect(res.json().refresh_token).toMatch(/^pcr_[0-9A-Za-z]{43}$/);
    return { ...c, refreshToken: res.json().refresh_token };
  }

  describe('refresh tokens', () => {
    it('are off by default (RFC 6749 §4.4.3): no refresh_token, and the grant is unauthorized_client', async () => {
      const c = await seedClient(p.runtime);
      const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
      expect(res.json()).not.toHaveProperty('refresh_token');
      const r = await refresh(p, c, 'pcr_whatever');
      expect(r.statusCode).toBe(400);
      expect(r.json().error).toBe('unauthorized_client');
    });

    it('work after the access token expired, rotate on every use, and reflect current roles', async () => {
      const c = await refreshingClient({ permissions: ['a:read', 'a:write'], granted: ['a:read'], ttl: 300 });
      p.clock.advance(301);
      const first = await refresh(p, c, c.refreshToken);
      expect(first.statusCode).toBe(200);
      expect(first.headers['cache-control']).toBe('no-store');
      const body = first.json();
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'a:read' });
      expect(body.refresh_token).not.toBe(c.refreshToken);

      // The roles change: the next refresh carries the new permission.
      const writer = await p.runtime.catalogService.createRole({ name: `w ${c.clientId}`, permissions: [{ api: c.apiIdentifier, value: 'a:write' }] }, SYSTEM_ACTOR);
      await p.runtime.clients.setRoles(c.orgId, c.clientId, [c.roleId, writer.id], SYSTEM_ACTOR);
      const second = await refresh(p, c, body.refresh_token);
      expect(second.statusCode).toBe(200);
      expect(second.json().scope).toBe('a:read a:write');
      // …and narrowing within the original scope works.
      const third = await refresh(p, c, second.json().refresh_token, { scope: 'a:write' });
      expect(third.json().scope).toBe('a:write');
    });

    it('detects re-use: the whole family dies and the event is audited', async () => {
      const c = await refreshingClient();
      const next = (await refresh(p, c, c.refreshToken)).json().refresh_token;
      const reuse = await refresh(p, c, c.refreshToken);
      expect(reuse.statusCode).toBe(400);
      expect(reuse.json().error).toBe('invalid_grant');
      const afterReuse = await refresh(p, c, next);
      expect(afterReuse.statusCode).toBe(400);
      expect(afterReuse.json().error).toBe('invalid_grant');
      const events = await p.runtime.store.db.selectFrom('audit_events').selectAll().where('org_id', '=', c.orgId).where('action', '=', 'refresh_token.reuse_detected').execute();
      expect(events).toHaveLength(1);
      expect(JSON.stringify(events[0]?.details)).not.toContain('pcr_');
    });

    it("refuses another client's refresh token, an unknown one, an expired one, and a missing one", async () => {
      const c = await refreshingClient();
      const other = await seedClient(p.runtime, { refreshTokens: true });
      const stolen = await refresh(p, other, c.refreshToken);
      expect(stolen.statusCode).toBe(400);
      expect(stolen.json().error).toBe('invalid_grant');
      // The owner can still use it: a refused attempt spends nothing.
      expect((await refresh(p, c, c.refreshToken)).statusCode).toBe(200);
      expect((await refresh(p, c, 'pcr_unknown')).json().error).toBe('invalid_grant');
      const missing = await post(p, '/oauth/token', c, { grant_type: 'refresh_token' });
      expect(missing.json().error).toBe('invalid_request');

      const idle = await refreshingClient();
      p.clock.advance(14 * 86400 + 1);
      expect((await refresh(p, idle, idle.refreshToken)).json().error).toBe('invalid_grant');
    });

    it('an invalid scope on refresh is refused without spending the token', async () => {
      const c = await refreshingClient({ permissions: ['a:read', 'a:write'] });
      const wider = await post(p, '/oauth/token', c, { grant_type: 'refresh_token', refresh_token: c.refreshToken, scope: 'a:read nope' });
      expect(wider.json().error).toBe('invalid_scope');
      expect((await refresh(p, c, c.refreshToken)).statusCode).toBe(200);
    });

    it('survive a secret rotation (the client proves itself with the new secret) but not a deletion', async () => {
      const c = await refreshingClient();
      const rotated = await p.runtime.clients.rotateSecret(c.orgId, c.clientId, { gracePeriodSeconds: 0 }, SYSTEM_ACTOR);
      const withNew = await refresh(p, { clientId: c.clientId, secret: rotated.client_secret }, c.refreshToken);
      expect(withNew.statusCode).toBe(200);
      await p.runtime.clients.delete(c.orgId, c.clientId, SYSTEM_ACTOR);
      const rows = await p.runtime.store.db.selectFrom('refresh_tokens').select('id').where('client_id', '=', c.clientId).execute();
      expect(rows).toHaveLength(0);
    });
  });

  describe('introspection (RFC 7662)', () => {
    it("describes an active access token of the caller's organization", async () => {
      const c = await seedClient(p.runtime);
      const token = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token;
      const res = await post(p, '/oauth/introspect', c, { token });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(body).toMatchObject({
        active: true,
        token_type: 'Bearer',
        client_id: c.clientId,
        org_id: c.orgId,
        scope: 'meters:read meters:write',
        aud: c.apiIdentifier,
        iss: p.config.issuer,
        sub: c.clientId,
      });
      for (const claim of ['exp', 'iat']) expect(typeof body[claim]).toBe('number');
      expect(typeof body.jti).toBe('string');
    });

    it('answers {"active": false} for garbage, expired, other-organization, revoked and deleted-client tokens', async () => {
      const c = await seedClient(p.runtime, { ttl: 600 });
      const other = await seedClient(p.runtime);
      const token = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token;
      const inactive = { active: false };
      expect((await post(p, '/oauth/introspect', c, { token: 'garbage' })).json()).toEqual(inactive);
      expect((await post(p, '/oauth/introspect', other, { token })).json()).toEqual(inactive);

      const revokedToken = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token;
      expect((await post(p, '/oauth/revoke', c, { token: revokedToken })).statusCode).toBe(200);
      expect((await post(p, '/oauth/introspect', c, { token: revokedToken })).json()).toEqual(inactive);
      expect((await post(p, '/oauth/introspect', c, { token })).json().active).toBe(true);

      p.clock.advance(601);
      expect((await post(p, '/oauth/introspect', c, { token })).json()).toEqual(inactive);

      const doomed = await seedClient(p.runtime);
      const colleague = await p.runtime.clients.create(doomed.orgId, { name: 'colleague', roles: [doomed.roleId] }, SYSTEM_ACTOR);
      const doomedToken = (await tokenRequest(p.app, doomed, { audience: doomed.apiIdentifier })).json().access_token;
      const asColleague = { clientId: colleague.client.client_id, secret: colleague.client_secret };
      expect((await post(p, '/oauth/introspect', asColleague, { token: doomedToken })).json().active).toBe(true);
      await p.runtime.clients.delete(doomed.orgId, doomed.clientId, SYSTEM_ACTOR);
      expect((await post(p, '/oauth/introspect', asColleague, { token: doomedToken })).json()).toEqual(inactive);
    });

    it('describes a live refresh token, and not a spent one', async () => {
      const c = await refreshingClient();
      const live = await post(p, '/oauth/introspect', c, { token: c.refreshToken, token_type_hint: 'refresh_token' });
      expect(live.json()).toMatchObject({ active: true, token_type: 'refresh_token', client_id: c.clientId, aud: c.apiIdentifier });
      await refresh(p, c, c.refreshToken);
      expect((await post(p, '/oauth/introspect', c, { token: c.refreshToken })).json()).toEqual({ active: false });
    });

    it('requires client authentication and a token', async () => {
      const anonymous = await p.app.inject({ method: 'POST', url: '/oauth/introspect', headers: FORM, payload: form({ token: 'x' }) });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error).toBe('invalid_client');
      const c = await seedClient(p.runtime);
      const noToken = await post(p, '/oauth/introspect', c, {});
      expect(noToken.statusCode).toBe(400);
      expect(noToken.json().error).toBe('invalid_request');
    });
  });

  describe('revocation (RFC 7009)', () => {
    it("revokes a refresh token's family; unknown tokens and other clients' tokens answer 200 and change nothing", async () => {
      const c = await refreshingClient();
      const stranger = await seedClient(p.runtime);
      const byStranger = await post(p, '/oauth/revoke', stranger, { token: c.refreshToken });
      expect(byStranger.statusCode).toBe(200);
      expect(byStranger.body).toBe('');
      expect((await post(p, '/oauth/revoke', c, { token: 'nothing-we-know' })).statusCode).toBe(200);
      const next = (await refresh(p, c, c.refreshToken)).json().refresh_token;
      expect((await post(p, '/oauth/revoke', c, { token: next, token_type_hint: 'refresh_token' })).statusCode).toBe(200);
      expect((await refresh(p, c, next)).json().error).toBe('invalid_grant');
    });

    it("lets a same-organization client with clients:write revoke another client's tokens", async () => {
      const c = await seedClient(p.runtime);
      const manager = await p.runtime.clients.create(c.orgId, { name: 'manager', roles: ['client-manager'] }, SYSTEM_ACTOR);
      const token = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token;
      await post(p, '/oauth/revoke', { clientId: manager.client.client_id, secret: manager.client_secret }, { token, token_type_hint: 'access_token' });
      expect((await post(p, '/oauth/introspect', c, { token })).json()).toEqual({ active: false });
    });

    it('a revoked management token stops working on the management API', async () => {
      const c = await seedClient(p.runtime);
      const manager = await p.runtime.clients.create(c.orgId, { name: 'automation', roles: ['client-manager'] }, SYSTEM_ACTOR);
      const creds = { clientId: manager.client.client_id, secret: manager.client_secret };
      const token = (await tokenRequest(p.app, creds, { audience: `${p.config.issuer}/api/v1/` })).json().access_token;
      const list = () => p.app.inject({ method: 'GET', url: `/api/v1/organizations/${c.orgId}/clients`, headers: { authorization: `Bearer ${token}` } });
      expect((await list()).statusCode).toBe(200);
      await post(p, '/oauth/revoke', creds, { token });
      expect((await list()).statusCode).toBe(401);
    });
  });
});

describe.each(testDatabases())("the migrating platform's documented sequence on $name", (db) => {
  afterAll(async () => {
    await db.dispose();
  });

  it('Basic client_credentials at /oauth2/token → pair → after expiry refresh_token with Basic → new pair; then with query-string credentials', async () => {
    const p = await startPortcullis(await db.open(), { env: { ALLOW_QUERY_CREDENTIALS: 'true' } });
    try {
      const c = await seedClient(p.runtime, { refreshTokens: true, ttl: 3600 });
      const first = await post(p, '/oauth2/token', c, { grant_type: 'client_credentials', audience: c.apiIdentifier });
      expect(first.statusCode).toBe(200);
      const pair = first.json();
      expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      expect(typeof pair.access_token).toBe('string');
      expect(typeof pair.refresh_token).toBe('string');
      p.clock.advance(3601);
      const renewed = await post(p, '/oauth2/token', c, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      expect(renewed.statusCode).toBe(200);
      expect(renewed.json().refresh_token).not.toBe(pair.refresh_token);

      const q = `client_id=${encodeURIComponent(c.clientId)}&client_secret=${encodeURIComponent(c.secret)}`;
      const viaQuery = await p.app.inject({ method: 'POST', url: `/oauth2/token?${q}`, headers: FORM, payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }) });
      expect(viaQuery.statusCode).toBe(200);
      p.clock.advance(3601);
      const refreshedViaQuery = await p.app.inject({
        method: 'POST',
        url: `/oauth2/token?${q}`,
        headers: FORM,
        payload: form({ grant_type: 'refresh_token', refresh_token: viaQuery.json().refresh_token }),
      });
      expect(refreshedViaQuery.statusCode).toBe(200);
      expect(typeof refreshedViaQuery.json().refresh_token).toBe('string');
    } finally {
      await p.close();
    }
  });
});
