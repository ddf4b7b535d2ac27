import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { testDatabases } from '../../helpers/databases.js';
import { call, createUser, managementClient, signIn, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';
import { tokenRequest } from '../../helpers/tokens.js';

const CLIENT_KEYS = ['client_id', 'created_at', 'jwks', 'last_used_at', 'name', 'organization_id', 'refresh_tokens', 'require_dpop', 'roles', 'secret_hint', 'updated_at'];

describe.each(testDatabases())('organization clients through the management API on $name', (db) => {
  let p: TestPortcullis;
  let org: string;
  let admin: Caller;
  let member: Caller;
  let api: string;
  let logLines: string[];

  beforeAll(async () => {
    logLines = [];
    p = await startPortcullis(await db.open(), { env: { LOG_LEVEL: 'trace' }, logStream: { write: (l: string) => void logLines.push(l) } });
    org = (await p.runtime.organizations.create({ name: 'Acme' }, SYSTEM_ACTOR)).id;
    await createUser(p.runtime, 'admin@acme.example.com', { orgId: org, role: 'admin' });
    await createUser(p.runtime, 'member@acme.example.com', { orgId: org, role: 'member' });
    admin = await signIn(p.app, 'admin@acme.example.com');
    member = await signIn(p.app, 'member@acme.example.com');
    api = 'https://meters.acme.example.com/';
    await p.runtime.catalogService.createApi(
      {
        identifier: api,
        name: 'Meters',
        permissions: [
          { value: 'meters:read', description: '' },
          { value: 'meters:write', description: '' },
        ],
      },
      SYSTEM_ACTOR,
    );
    await p.runtime.catalogService.createRole({ id: 'meter-reader', name: 'Meter reader', permissions: [{ api, value: 'meters:read' }] }, SYSTEM_ACTOR);
    await p.runtime.catalogService.createRole({ id: 'meter-writer', name: 'Meter writer', permissions: [{ api, value: 'meters:write' }] }, SYSTEM_ACTOR);
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  async function create(name = 'Daemon', roles = ['meter-reader']) {
    const res = await call(p.app, admin, 'POST', `/organizations/${org}/clients`, { name, roles });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { client_id: string; client_secret: string; secret_hint: string };
  }

  it('creates a client: 201, the secret once, and a client that gets tokens', async () => {
    const res = await call(p.app, admin, 'POST', `/organizations/${org}/clients`, { name: 'Meter daemon', roles: ['meter-reader'] });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual([...CLIENT_KEYS, 'client_secret'].sort());
    expect(body).toMatchObject({ name: 'Meter daemon', organization_id: org, roles: [{ id: 'meter-reader', name: 'Meter reader' }], refresh_tokens: false, last_used_at: null });
    expect(body.client_secret).toMatch(/^pcs_[0-9A-Za-z]{49}$/);
    expect(body.secret_hint).toBe(body.client_secret.slice(-4));
    const token = await tokenRequest(p.app, { clientId: body.client_id, secret: body.client_secret }, { audience: api });
    expect(token.statusCode).toBe(200);
    expect(token.json().scope).toBe('meters:read');
  });

  it('never shows a secret again: get, list', async () => {
    const created = await create();
    const get = await call(p.app, member, 'GET', `/organizations/${org}/clients/${created.client_id}`);
    expect(get.statusCode).toBe(200);
    expect(Object.keys(get.json()).sort()).toEqual(CLIENT_KEYS);
    expect(get.body).not.toContain(created.client_secret);
    const list = await call(p.app, member, 'GET', `/organizations/${org}/clients?limit=200`);
    expect(list.body).not.toContain('pcs_');
    expect(list.json().data.map((c: { client_id: string }) => c.client_id)).toContain(created.client_id);
  });

  it('lists page by page with limit and cursor, every client once, newest first', async () => {
    const fresh = (await p.runtime.organizations.create({ name: 'Paged' }, SYSTEM_ACTOR)).id;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await p.runtime.clients.create(fresh, { name: `c${i}`, roles: [] }, SYSTEM_ACTOR)).client.client_id);
      p.clock.advance(1);
    }
    const root = await signInPlatformAdmin();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(p.app, root, 'GET', `/organizations/${fresh}/clients?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json() as { data: { client_id: string }[]; next_cursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((c) => c.client_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const bad = await call(p.app, root, 'GET', `/organizations/${fresh}/clients?cursor=garbage`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('invalid_request');
    expect((await call(p.app, root, 'GET', `/organizations/${fresh}/clients?limit=201`)).statusCode).toBe(400);
    expect((await call(p.app, root, 'GET', `/organizations/${fresh}/clients?limit=0`)).statusCode).toBe(400);
  });

  let platformAdmin: Caller | undefined;
  async function signInPlatformAdmin() {
    if (!platformAdmin) {
      await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
      platformAdmin = await signIn(p.app, 'root@example.com');
    }
    return platformAdmin;
  }

  it('renames and toggles refresh tokens with PATCH', async () => {
    const c = await create();
    const res = await call(p.app, admin, 'PATCH', `/organizations/${org}/clients/${c.client_id}`, { name: 'Renamed', refresh_tokens: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'Renamed', refresh_tokens: true });
  });

  it('replaces roles with PUT; the next token carries the new permissions', async () => {
    const c = await create();
    const res = await call(p.app, admin, 'PUT', `/organizations/${org}/clients/${c.client_id}/roles`, { roles: ['meter-reader', 'meter-writer'] });
    expect(res.statusCode).toBe(200);
    expect(res.json().roles).toEqual([
      { id: 'meter-reader', name: 'Meter reader' },
      { id: 'meter-writer', name: 'Meter writer' },
    ]);
    const token = await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api });
    expect(token.json().scope).toBe('meters:read meters:write');
  });

  it('refuses unknown role ids with 400 details naming each, and changes nothing', async () => {
    const c = await create();
    const res = await call(p.app, admin, 'PUT', `/organizations/${org}/clients/${c.client_id}/roles`, { roles: ['meter-writer', 'no-such-role'] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', message: 'Unknown roles: no-such-role.', details: [{ field: '/body/roles/1', message: 'no role "no-such-role"' }] });
    const after = await call(p.app, admin, 'GET', `/organizations/${org}/clients/${c.client_id}`);
    expect(after.json().roles).toEqual([{ id: 'meter-reader', name: 'Meter reader' }]);
    const create400 = await call(p.app, admin, 'POST', `/organizations/${org}/clients`, { name: 'x', roles: ['nope'] });
    expect(create400.statusCode).toBe(400);
  });

  it('validates bodies by schema: missing and unknown fields are named', async () => {
    const res = await call(p.app, admin, 'POST', `/organizations/${org}/clients`, { roles: [], extra: 1 });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: string; details: { field: string }[] };
    expect(body.error).toBe('invalid_request');
    expect(body.details.length).toBeGreaterThan(0);
    const bad = await call(p.app, admin, 'PATCH', `/organizations/${org}/clients/x`, {});
    expect(bad.statusCode).toBe(400);
  });

  it('rotates: the old secret fails at once, the new one works, only the hint remains', async () => {
    const c = await create();
    const res = await call(p.app, admin, 'POST', `/organizations/${org}/clients/${c.client_id}/secret/rotate`, {});
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['client_secret', 'previous_secret_expires_at', 'secret_hint']);
    expect(body.previous_secret_expires_at).toBeNull();
    expect(body.secret_hint).toBe(body.client_secret.slice(-4));
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api })).statusCode).toBe(401);
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: body.client_secret }, { audience: api })).statusCode).toBe(200);
    const get = await call(p.app, admin, 'GET', `/organizations/${org}/clients/${c.client_id}`);
    expect(get.json().secret_hint).toBe(body.secret_hint);
  });

  it('rotates with a grace period: both secrets work until it ends', async () => {
    const c = await create();
    const res = await call(p.app, admin, 'POST', `/organizations/${org}/clients/${c.client_id}/secret/rotate`, { grace_period_seconds: 600 });
    const body = res.json();
    expect(new Date(body.previous_secret_expires_at).getTime()).toBe(p.clock.now().getTime() + 600_000);
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api })).statusCode).toBe(200);
    p.clock.advance(601);
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api })).statusCode).toBe(401);
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: body.client_secret }, { audience: api })).statusCode).toBe(200);
  });

  it('deletes: 204, then 404, and the secret fails at once', async () => {
    const c = await create();
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api })).statusCode).toBe(200);
    const res = await call(p.app, admin, 'DELETE', `/organizations/${org}/clients/${c.client_id}`);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await call(p.app, admin, 'GET', `/organizations/${org}/clients/${c.client_id}`)).statusCode).toBe(404);
    expect((await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api })).statusCode).toBe(401);
  });

  it("answers 404 for another organization's client, even to a platform-wide route shape", async () => {
    const other = (await p.runtime.organizations.create({ name: 'Other' }, SYSTEM_ACTOR)).id;
    const { client } = await p.runtime.clients.create(other, { name: 'theirs', roles: [] }, SYSTEM_ACTOR);
    expect((await call(p.app, admin, 'GET', `/organizations/${org}/clients/${client.client_id}`)).statusCode).toBe(404);
    expect((await call(p.app, admin, 'DELETE', `/organizations/${org}/clients/${client.client_id}`)).statusCode).toBe(404);
    expect((await call(p.app, admin, 'GET', `/organizations/${other}/clients/${client.client_id}`)).statusCode).toBe(404);
  });

  it("a management token manages its own organization's clients", async () => {
    const automation = await managementClient(p.app, p.runtime, org);
    const token = await automation.tokenFor();
    const created = await call(p.app, token, 'POST', `/organizations/${org}/clients`, { name: 'made by a script', roles: ['meter-reader'] });
    expect(created.statusCode).toBe(201);
    const events = await call(p.app, token, 'GET', `/organizations/${org}/audit-events?limit=5`);
    expect(events.statusCode).toBe(200);
    const [latest] = events.json().data;
    expect(latest).toMatchObject({ action: 'client.created', actor: { type: 'client', id: automation.clientId }, target: { type: 'client', id: created.json().client_id } });
    // Deleting the automation client kills its token at once.
    await p.runtime.clients.delete(org, automation.clientId, SYSTEM_ACTOR);
    expect((await call(p.app, token, 'GET', `/organizations/${org}/clients`)).statusCode).toBe(401);
  });

  it('records every change in the audit log with actor, time, IP and a diff, and never a secret', async () => {
    const c = await create('Audited');
    await call(p.app, admin, 'PATCH', `/organizations/${org}/clients/${c.client_id}`, { name: 'Audited 2' });
    await call(p.app, admin, 'PUT', `/organizations/${org}/clients/${c.client_id}/roles`, { roles: ['meter-writer'] });
    const rotated = (await call(p.app, admin, 'POST', `/organizations/${org}/clients/${c.client_id}/secret/rotate`, {})).json();
    await call(p.app, admin, 'DELETE', `/organizations/${org}/clients/${c.client_id}`);
    const res = await call(p.app, admin, 'GET', `/organizations/${org}/audit-events?limit=200`);
    expect(res.statusCode).toBe(200);
    const events = (res.json().data as { action: string; target: { id: string }; actor: { type: string; id: string }; ip: string; at: string; details: Record<string, unknown> }[]).filter(
      (e) => e.target.id === c.client_id,
    );
    expect(events.map((e) => e.action)).toEqual(['client.deleted', 'client.secret_rotated', 'client.roles_changed', 'client.updated', 'client.created']);
    const me = (await call(p.app, admin, 'GET', '/me')).json();
    for (const e of events) {
      expect(e.actor).toEqual({ type: 'user', id: me.id });
      expect(e.ip).toBe('127.0.0.1');
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    expect(events[3]?.details).toEqual({ name: { from: 'Audited', to: 'Audited 2' } });
    expect(events[2]?.details).toEqual({ roles: { from: [{ id: 'meter-reader', name: 'Meter reader' }], to: [{ id: 'meter-writer', name: 'Meter writer' }] } });
    expect(res.body).not.toContain(c.client_secret);
    expect(res.body).not.toContain(rotated.client_secret);
    expect(res.body).not.toContain('pcs_');
  });

  it('keeps every secret out of the logs (create, rotate, failed token requests)', async () => {
    const c = await create('Logged');
    const rotated = (await call(p.app, admin, 'POST', `/organizations/${org}/clients/${c.client_id}/secret/rotate`, {})).json();
    await tokenRequest(p.app, { clientId: c.client_id, secret: c.client_secret }, { audience: api });
    await tokenRequest(p.app, { clientId: c.client_id, secret: rotated.client_secret }, { audience: 'nope' });
    const log = logLines.join('\n');
    expect(log.length).toBeGreaterThan(0);
    expect(log).toContain('"status":201');
    for (const secret of [c.client_secret, rotated.client_secret]) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(secret.slice(4, 24));
    }
    expect(log).not.toContain('correct horse');
  });
});
