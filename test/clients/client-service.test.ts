import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/audit/actor.js';
import type { Client } from '../../src/wire/management.js';
import { isWellFormedSecret } from '../../src/clients/secret.js';
import { deriveKey } from '../../src/keys/master-key.js';
import { testDatabases } from '../helpers/databases.js';
import { startPortcullis, type TestPortcullis, apiError } from '../helpers/portcullis.js';

const ACTOR: Actor = { type: 'user', id: 'usr_alice', ip: '203.0.113.7' };
const MASTER_KEY = randomBytes(32).toString('base64');
const PEPPER = deriveKey(Buffer.from(MASTER_KEY, 'base64'), 'client-secret-pepper');
const hmac = (secret: string) => createHmac('sha256', PEPPER).update(secret).digest();

describe.each(testDatabases())('ClientService on $name', (db) => {
  let p: TestPortcullis;
  /** Every secret handed out in this suite, to look for in the audit log at the end. */
  const issued: string[] = [];
  let n = 0;

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), { masterKey: MASTER_KEY });
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  /** An organization and two roles on one API. */
  async function setup() {
    const tag = `${++n}-${randomBytes(3).toString('hex')}`;
    const org = await p.runtime.organizations.create({ name: `Org ${tag}` }, ACTOR);
    const other = await p.runtime.organizations.create({ name: `Other ${tag}` }, ACTOR);
    const api = await p.runtime.catalogService.createApi(
      {
        identifier: `https://meters-${tag}.example.com/`,
        name: `Meters ${tag}`,
        permissions: [
          { value: 'meters:read', description: 'Read meters' },
          { value: 'meters:write', description: 'Write meters' },
        ],
      },
      ACTOR,
    );
    const reader = await p.runtime.catalogService.createRole({ name: `Reader ${tag}`, permissions: [{ api: api.identifier, value: 'meters:read' }] }, ACTOR);
    const writer = await p.runtime.catalogService.createRole({ name: `Writer ${tag}`, permissions: [{ api: api.identifier, value: 'meters:write' }] }, ACTOR);
    return { org, other, api, reader, writer };
  }

  async function create(orgId: string, input: { name: string; roles: string[]; refresh_tokens?: boolean }) {
    const created = await p.runtime.clients.create(orgId, input, ACTOR);
    issued.push(created.client_secret);
    return created;
  }

  const secretsOf = (clientId: string) => p.runtime.store.db.selectFrom('client_secrets').selectAll().where('client_id', '=', clientId).orderBy('created_at').orderBy('id').execute();
  const auditOf = (clientId: string) => p.runtime.store.db.selectFrom('audit_events').selectAll().where('target_type', '=', 'client').where('target_id', '=', clientId).orderBy('id').execute();
  const rolesOf = async (clientId: string) =>
    (await p.runtime.store.db.selectFrom('client_roles').select('role_id').where('client_id', '=', clientId).orderBy('role_id').execute()).map((r) => r.role_id);

  describe('create', () => {
    it('returns the client and a pcs_ secret, once', async () => {
      const { org, reader } = await setup();
      const now = p.clock.now();
      const { client, client_secret } = await create(org.id, { name: 'Billing daemon', roles: [reader.id] });

      expect(client_secret).toMatch(/^pcs_[0-9A-Za-z]{49}$/);
      expect(isWellFormedSecret(client_secret)).toBe(true);
      expect(client).toEqual({
        client_id: expect.stringMatching(/^[0-9A-Za-z]{22}$/),
        name: 'Billing daemon',
        organization_id: org.id,
        roles: [{ id: reader.id, name: reader.name }],
        secret_hint: client_secret.slice(-4),
        refresh_tokens: false,
        require_dpop: false,
        jwks: { keys: [] },
        created_at: now,
        updated_at: now,
        last_used_at: null,
      });
      expect(JSON.stringify(client)).not.toContain(client_secret);

      // Never again: not from get, not from list.
      const got = await p.runtime.clients.get(org.id, client.client_id);
      expect(got).toEqual(client);
      expect(JSON.stringify(got)).not.toContain(client_secret);
      expect(JSON.stringify(await p.runtime.clients.list(org.id, { limit: 50 }))).not.toContain('pcs_');
    });

    it('stores only an HMAC of the secret, and a hint of its last 4 characters', async () => {
      const { org } = await setup();
      const { client, client_secret } = await create(org.id, { name: 'Stored', roles: [] });
      const rows = await secretsOf(client.client_id);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.id).toMatch(/^sec_/);
      expect(row.hint).toBe(client_secret.slice(-4));
      expect(row.expires_at).toBeNull();
      expect(row.last_used_at).toBeNull();
      expect(row.hash).toBeInstanceOf(Uint8Array); // a Buffer from pg, a Uint8Array from PGlite
      expect(Buffer.from(row.hash).equals(hmac(client_secret))).toBe(true);

      const body = client_secret.slice(4);
      for (const [column, value] of Object.entries(row) as [string, unknown][]) {
        const texts = value instanceof Uint8Array ? [Buffer.from(value).toString('utf8'), Buffer.from(value).toString('hex'), Buffer.from(value).toString('base64')] : [String(value)];
        for (const text of texts) {
          expect(text, column).not.toContain(client_secret);
          expect(text, column).not.toContain(body);
          expect(text, column).not.toContain(body.slice(0, 20));
        }
      }
    });

    it('takes refresh_tokens and deduplicates roles', async () => {
      const { org, reader, writer } = await setup();
      const { client } = await create(org.id, { name: 'Dup', roles: [writer.id, reader.id, writer.id], refresh_tokens: true });
      expect(client.refresh_tokens).toBe(true);
      expect(client.roles).toEqual([reader, writer].map((r) => ({ id: r.id, name: r.name })).sort((a, b) => a.id.localeCompare(b.id)));
      expect(await rolesOf(client.client_id)).toEqual([reader.id, writer.id].sort());
    });

    it('with an unknown role: 400 naming it, and no client, secret or audit event left behind', async () => {
      const { org, reader } = await setup();
      const auditBefore = await p.runtime.store.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      const err = await apiError(create(org.id, { name: 'Ghost', roles: [reader.id, 'no-such-role'] }));
      expect(err).toMatchObject({ code: 'invalid_request', status: 400, details: [{ field: '/body/roles/1', message: 'no role "no-such-role"' }] });

      const clients = await p.runtime.store.db.selectFrom('clients').select('client_id').where('org_id', '=', org.id).execute();
      expect(clients).toEqual([]);
      const orphans = await p.runtime.store.db
        .selectFrom('client_secrets')
        .leftJoin('clients', 'clients.client_id', 'client_secrets.client_id')
        .select('client_secrets.id')
        .where('clients.client_id', 'is', null)
        .execute();
      expect(orphans).toEqual([]);
      const auditAfter = await p.runtime.store.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(auditAfter.n)).toBe(Number(auditBefore.n));
    });

    it('in an unknown organization: 404', async () => {
      const err = await apiError(p.runtime.clients.create('org_nope', { name: 'x', roles: [] }, ACTOR));
      expect(err).toMatchObject({ code: 'not_found', status: 404 });
    });
  });

  describe('organization scoping', () => {
    it('another organization cannot see or change the client (404), and nothing changes', async () => {
      const { org, other, reader } = await setup();
      const { client } = await create(org.id, { name: 'Mine', roles: [reader.id] });
      const secretsBefore = await secretsOf(client.client_id);

      // Thunks: each attempt starts only when awaited, so none rejects unobserved.
      for (const attempt of [
        () => p.runtime.clients.get(other.id, client.client_id),
        () => p.runtime.clients.update(other.id, client.client_id, { name: 'Stolen' }, ACTOR),
        () => p.runtime.clients.setRoles(other.id, client.client_id, [], ACTOR),
        () => p.runtime.clients.rotateSecret(other.id, client.client_id, { gracePeriodSeconds: 0 }, ACTOR),
        () => p.runtime.clients.delete(other.id, client.client_id, ACTOR),
      ]) {
        const err = await apiError(attempt());
        expect(err).toMatchObject({ code: 'not_found', status: 404, message: 'Client not found.' });
      }
      expect(await p.runtime.clients.list(other.id, { limit: 50 })).toEqual({ data: [], next_cursor: null });

      expect(await p.runtime.clients.get(org.id, client.client_id)).toEqual(client);
      expect(await secretsOf(client.client_id)).toEqual(secretsBefore);
      expect((await auditOf(client.client_id)).map((e) => e.action)).toEqual(['client.created']);
    });

    it('an unknown client id is 404', async () => {
      const { org } = await setup();
      expect(await apiError(p.runtime.clients.get(org.id, 'nope'))).toMatchObject({ code: 'not_found', status: 404 });
    });
  });

  describe('list', () => {
    /** Seven clients, some created at the same instant, so ties are broken by client_id. */
    async function sevenClients(orgId: string): Promise<Client[]> {
      const made: Client[] = [];
      for (const step of [0, 0, 1, 1, 1, 1, 0]) {
        p.clock.advance(step);
        made.push((await create(orgId, { name: `C${made.length}`, roles: [] })).client);
      }
      return made;
    }
    const newestFirst = (clients: Client[]) => [...clients].sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a.client_id < b.client_id ? 1 : a.client_id > b.client_id ? -1 : 0));

    it.each([1, 2, 3, 6, 7, 8])('pages with limit %i return every client once, newest first, then next_cursor null', async (limit) => {
      const { org, other } = await setup();
      await create(other.id, { name: 'Elsewhere', roles: [] });
      const made = await sevenClients(org.id);

      const seen: Client[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await p.runtime.clients.list(org.id, { limit, cursor });
        pages++;
        expect(page.data.length).toBeLessThanOrEqual(limit);
        seen.push(...page.data);
        if (page.next_cursor === null) break;
        expect(page.data).toHaveLength(limit);
        cursor = page.next_cursor;
        expect(pages).toBeLessThan(20);
      }
      expect(pages).toBe(Math.max(1, Math.ceil(made.length / limit)));
      expect(seen.map((c) => c.client_id)).toEqual(newestFirst(made).map((c) => c.client_id));
      expect(seen).toEqual(newestFirst(made));
    });

    it('a later page is not disturbed by clients created after the first', async () => {
      const { org } = await setup();
      const made = await sevenClients(org.id);
      const first = await p.runtime.clients.list(org.id, { limit: 3 });
      p.clock.advance(5);
      const late = (await create(org.id, { name: 'Late', roles: [] })).client;
      const second = await p.runtime.clients.list(org.id, { limit: 10, cursor: first.next_cursor! });
      expect([...first.data, ...second.data].map((c) => c.client_id)).toEqual(newestFirst(made).map((c) => c.client_id));
      expect(second.next_cursor).toBeNull();
      expect((await p.runtime.clients.list(org.id, { limit: 1 })).data[0]?.client_id).toBe(late.client_id);
    });

    it.each([
      ['garbage', 'garbage'],
      ['not base64url JSON', '!!!'],
      ['JSON of the wrong shape', Buffer.from(JSON.stringify({ at: '2030-01-01T00:00:00Z', id: 'x' })).toString('base64url')],
      ['a bad date', Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url')],
      ['empty', ''],
    ])('a cursor that is %s is 400', async (_label, cursor) => {
      const { org } = await setup();
      const err = await apiError(p.runtime.clients.list(org.id, { limit: 10, cursor }));
      expect(err).toMatchObject({ code: 'invalid_request', status: 400, details: [{ field: '/querystring/cursor', message: 'not a cursor from a previous page' }] });
    });
  });

  describe('update', () => {
    it('changes name and refresh_tokens, one at a time, with audit diffs', async () => {
      const { org, reader } = await setup();
      const { client } = await create(org.id, { name: 'Before', roles: [reader.id] });

      p.clock.advance(10);
      const renamed = await p.runtime.clients.update(org.id, client.client_id, { name: 'After' }, ACTOR);
      expect(renamed).toEqual({ ...client, name: 'After', updated_at: p.clock.now() });

      p.clock.advance(10);
      const refreshing = await p.runtime.clients.update(org.id, client.client_id, { refresh_tokens: true }, ACTOR);
      expect(refreshing).toEqual({ ...client, name: 'After', refresh_tokens: true, updated_at: p.clock.now() });
      expect(await p.runtime.clients.get(org.id, client.client_id)).toEqual(refreshing);

      const updates = (await auditOf(client.client_id)).filter((e) => e.action === 'client.updated');
      expect(updates.map((e) => e.details)).toEqual([{ name: { from: 'Before', to: 'After' } }, { refresh_tokens: { from: false, to: true } }]);
    });
  });

  describe('setRoles', () => {
    it('replaces the roles', async () => {
      const { org, reader, writer } = await setup();
      const { client } = await create(org.id, { name: 'Roles', roles: [reader.id] });
      p.clock.advance(1);
      const changed = await p.runtime.clients.setRoles(org.id, client.client_id, [writer.id], ACTOR);
      expect(changed.roles).toEqual([{ id: writer.id, name: writer.name }]);
      expect(changed.updated_at).toEqual(p.clock.now());
      expect(await rolesOf(client.client_id)).toEqual([writer.id]);
      const cleared = await p.runtime.clients.setRoles(org.id, client.client_id, [], ACTOR);
      expect(cleared.roles).toEqual([]);
      expect(await rolesOf(client.client_id)).toEqual([]);

      const events = (await auditOf(client.client_id)).filter((e) => e.action === 'client.roles_changed');
      expect(events.map((e) => e.details)).toEqual([
        { roles: { from: [{ id: reader.id, name: reader.name }], to: [{ id: writer.id, name: writer.name }] } },
        { roles: { from: [{ id: writer.id, name: writer.name }], to: [] } },
      ]);
    });

    it('with an unknown role: 400 naming /body/roles/N, and nothing changes (no roles, no updated_at, no audit event)', async () => {
      const { org, reader, writer } = await setup();
      const { client } = await create(org.id, { name: 'Keep', roles: [reader.id] });
      p.clock.advance(1);
      const err = await apiError(p.runtime.clients.setRoles(org.id, client.client_id, [writer.id, 'ghost', reader.id, 'phantom'], ACTOR));
      expect(err).toMatchObject({
        code: 'invalid_request',
        status: 400,
        details: [
          { field: '/body/roles/1', message: 'no role "ghost"' },
          { field: '/body/roles/3', message: 'no role "phantom"' },
        ],
      });
      expect(await rolesOf(client.client_id)).toEqual([reader.id]);
      expect(await p.runtime.clients.get(org.id, client.client_id)).toEqual(client);
      expect((await auditOf(client.client_id)).map((e) => e.action)).toEqual(['client.created']);
    });
  });

  describe('rotateSecret', () => {
    it('with grace 0 replaces the secret at once', async () => {
      const { org } = await setup();
      const { client, client_secret: first } = await create(org.id, { name: 'Rotate0', roles: [] });
      const [oldRow] = await secretsOf(client.client_id);
      p.clock.advance(30);

      const rotated = await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 0 }, ACTOR);
      issued.push(rotated.client_secret);
      expect(rotated).toEqual({ client_secret: expect.stringMatching(/^pcs_/), secret_hint: rotated.client_secret.slice(-4), previous_secret_expires_at: null });
      expect(isWellFormedSecret(rotated.client_secret)).toBe(true);
      expect(rotated.client_secret).not.toBe(first);

      const rows = await secretsOf(client.client_id);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.id).not.toBe(oldRow!.id);
      expect(Buffer.from(rows[0]!.hash).equals(hmac(rotated.client_secret))).toBe(true);
      expect(rows[0]).toMatchObject({ hint: rotated.secret_hint, expires_at: null, created_at: p.clock.now() });

      const after = await p.runtime.clients.get(org.id, client.client_id);
      expect(after.secret_hint).toBe(rotated.secret_hint);
      expect(after.updated_at).toEqual(p.clock.now());
    });

    it('with grace N keeps the old secret until now+N; a second rotation keeps at most two secrets', async () => {
      const { org } = await setup();
      const { client, client_secret: first } = await create(org.id, { name: 'RotateN', roles: [] });
      p.clock.advance(30);

      const r1 = await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 300 }, ACTOR);
      issued.push(r1.client_secret);
      const expiresAt = new Date(p.clock.now().getTime() + 300_000);
      expect(r1.previous_secret_expires_at).toEqual(expiresAt);
      let rows = await secretsOf(client.client_id);
      expect(rows.map((r) => ({ hash: Buffer.from(r.hash), expires_at: r.expires_at }))).toEqual([
        { hash: hmac(first), expires_at: expiresAt },
        { hash: hmac(r1.client_secret), expires_at: null },
      ]);
      expect((await p.runtime.clients.get(org.id, client.client_id)).secret_hint).toBe(r1.secret_hint);

      p.clock.advance(60);
      const r2 = await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 600 }, ACTOR);
      issued.push(r2.client_secret);
      const expiresAt2 = new Date(p.clock.now().getTime() + 600_000);
      expect(r2.previous_secret_expires_at).toEqual(expiresAt2);
      rows = await secretsOf(client.client_id);
      expect(rows.map((r) => ({ hash: Buffer.from(r.hash), expires_at: r.expires_at }))).toEqual([
        { hash: hmac(r1.client_secret), expires_at: expiresAt2 },
        { hash: hmac(r2.client_secret), expires_at: null },
      ]);

      p.clock.advance(60);
      const r3 = await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 0 }, ACTOR);
      issued.push(r3.client_secret);
      rows = await secretsOf(client.client_id);
      expect(rows.map((r) => ({ hash: Buffer.from(r.hash), expires_at: r.expires_at }))).toEqual([{ hash: hmac(r3.client_secret), expires_at: null }]);

      const events = (await auditOf(client.client_id)).filter((e) => e.action === 'client.secret_rotated');
      expect(events.map((e) => e.details)).toEqual([
        { grace_period_seconds: 300, secret_hint: r1.secret_hint },
        { grace_period_seconds: 600, secret_hint: r2.secret_hint },
        { grace_period_seconds: 0, secret_hint: r3.secret_hint },
      ]);
    });

    it('concurrent rotations still leave one current and at most one previous secret', async () => {
      const { org } = await setup();
      const { client } = await create(org.id, { name: 'Busy', roles: [] });
      const results = await Promise.all([300, 300, 300, 300].map((grace) => p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: grace }, ACTOR)));
      issued.push(...results.map((r) => r.client_secret));
      const rows = await secretsOf(client.client_id);
      expect(rows).toHaveLength(2);
      expect(rows.filter((r) => r.expires_at === null)).toHaveLength(1);
      const current = rows.find((r) => r.expires_at === null)!;
      expect(results.some((r) => Buffer.from(current.hash).equals(hmac(r.client_secret)))).toBe(true);
    });
  });

  describe('delete', () => {
    it('removes the client with its secrets and roles', async () => {
      const { org, reader, writer } = await setup();
      const { client } = await create(org.id, { name: 'Doomed', roles: [reader.id, writer.id] });
      const r = await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 300 }, ACTOR);
      issued.push(r.client_secret);
      expect(await secretsOf(client.client_id)).toHaveLength(2);

      await p.runtime.clients.delete(org.id, client.client_id, ACTOR);
      expect(await secretsOf(client.client_id)).toEqual([]);
      expect(await rolesOf(client.client_id)).toEqual([]);
      expect(await p.runtime.store.db.selectFrom('clients').select('client_id').where('client_id', '=', client.client_id).execute()).toEqual([]);
      expect(await apiError(p.runtime.clients.get(org.id, client.client_id))).toMatchObject({ code: 'not_found', status: 404 });
      expect(await apiError(p.runtime.clients.delete(org.id, client.client_id, ACTOR))).toMatchObject({ code: 'not_found', status: 404 });
      // The roles themselves stay.
      expect((await p.runtime.catalogService.getRole(reader.id)).id).toBe(reader.id);
    });
  });

  describe('audit', () => {
    it('records every change with its actor, organization and target', async () => {
      const { org, reader, writer } = await setup();
      const { client } = await create(org.id, { name: 'Audited', roles: [reader.id] });
      await p.runtime.clients.update(org.id, client.client_id, { name: 'Audited 2' }, ACTOR);
      await p.runtime.clients.setRoles(org.id, client.client_id, [writer.id], ACTOR);
      issued.push((await p.runtime.clients.rotateSecret(org.id, client.client_id, { gracePeriodSeconds: 60 }, ACTOR)).client_secret);
      await p.runtime.clients.delete(org.id, client.client_id, ACTOR);

      const events = await auditOf(client.client_id);
      expect(events.map((e) => e.action)).toEqual(['client.created', 'client.updated', 'client.roles_changed', 'client.secret_rotated', 'client.deleted']);
      for (const e of events) {
        expect(e).toMatchObject({ org_id: org.id, actor_type: 'user', actor_id: 'usr_alice', ip: '203.0.113.7', target_type: 'client', target_id: client.client_id });
      }
      expect(events[0]!.details).toEqual({ name: 'Audited', roles: [reader.id], refresh_tokens: false, require_dpop: false, secret: true, key_thumbprints: [] });
      expect(events[4]!.details).toEqual({ name: 'Audited 2' });
    });

    it('no audit event anywhere carries a secret', async () => {
      expect(issued.length).toBeGreaterThan(10);
      const events = await p.runtime.store.db.selectFrom('audit_events').selectAll().execute();
      expect(events.length).toBeGreaterThan(10);
      for (const e of events) {
        const text = JSON.stringify(e);
        expect(text).not.toContain('pcs_');
        for (const secret of issued) expect(text).not.toContain(secret.slice(4, 24));
      }
    });
  });
});
