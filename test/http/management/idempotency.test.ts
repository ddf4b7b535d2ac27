import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { IDEMPOTENCY_KEY_TTL_SECONDS } from '../../../src/idempotency/idempotency-keys.js';
import { testDatabases } from '../../helpers/databases.js';
import { createUser, managementClient, signIn, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';
import { tokenRequest } from '../../helpers/tokens.js';

describe.each(testDatabases())('Idempotency-Key on the management API on $name', (db) => {
  let p: TestPortcullis;
  let org: string;
  let admin: Caller;
  let otherAdmin: Caller;
  let api: string;

  beforeAll(async () => {
    p = await startPortcullis(await db.open());
    org = (await p.runtime.organizations.create({ name: 'Acme' }, SYSTEM_ACTOR)).id;
    await createUser(p.runtime, 'admin@acme.example.com', { orgId: org, role: 'admin' });
    await createUser(p.runtime, 'other@acme.example.com', { orgId: org, role: 'admin' });
    await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
    admin = await signIn(p.app, 'admin@acme.example.com');
    otherAdmin = await signIn(p.app, 'other@acme.example.com');
    api = 'https://meters.acme.example.com/';
    await p.runtime.catalogService.createApi({ identifier: api, name: 'Meters', permissions: [{ value: 'meters:read', description: '' }] }, SYSTEM_ACTOR);
    await p.runtime.catalogService.createRole({ id: 'meter-reader', name: 'Meter reader', permissions: [{ api, value: 'meters:read' }] }, SYSTEM_ACTOR);
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  function send(who: Caller, method: InjectOptions['method'], url: string, key: string | undefined, payload?: unknown) {
    return p.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { ...who.headers(String(method)), ...(key !== undefined ? { 'idempotency-key': key } : {}) },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  }

  async function auditActions(target: string): Promise<string[]> {
    const res = await send(admin, 'GET', `/organizations/${org}/audit-events?limit=200`, undefined);
    expect(res.statusCode).toBe(200);
    return (res.json().data as { action: string; target: { id: string } }[]).filter((e) => e.target.id === target).map((e) => e.action);
  }

  async function clientNames(): Promise<string[]> {
    const res = await send(admin, 'GET', `/organizations/${org}/clients?limit=200`, undefined);
    return (res.json().data as { name: string }[]).map((c) => c.name);
  }

  it('a repeated create gets the first answer without the secret, and creates one client with one audit event', async () => {
    const key = randomUUID();
    const first = await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'Once', roles: ['meter-reader'] });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const created = first.json() as Record<string, unknown> & { client_id: string; client_secret: string };
    expect(created.client_secret).toMatch(/^pcs_/);

    // The body's keys in another order are the same body.
    const again = await send(admin, 'POST', `/organizations/${org}/clients`, key, { roles: ['meter-reader'], name: 'Once' });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['cache-control']).toBe('no-store');
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    const { client_secret, ...withoutSecret } = created;
    expect(again.json()).toEqual({
      ...withoutSecret,
      message: 'This repeats the answer to the first request with this Idempotency-Key without client_secret, which that answer showed once and which is never stored.',
    });
    expect(again.body).not.toContain(client_secret);

    expect((await clientNames()).filter((n) => n === 'Once')).toHaveLength(1);
    expect(await auditActions(created.client_id)).toEqual(['client.created']);
    // The secret of the first answer is the client's, and it is nowhere in the database's stored answers.
    expect((await tokenRequest(p.app, { clientId: created.client_id, secret: client_secret }, { audience: api })).statusCode).toBe(200);
    const stored = await p.runtime.store.db.selectFrom('idempotency_keys').select('body').execute();
    expect(stored.map((r) => r.body).join('\n')).not.toContain('pcs_');
  });

  it('a repeated rotation rotates once', async () => {
    const created = (await send(admin, 'POST', `/organizations/${org}/clients`, undefined, { name: 'Rotated', roles: ['meter-reader'] })).json() as { client_id: string };
    const key = randomUUID();
    const first = await send(admin, 'POST', `/organizations/${org}/clients/${created.client_id}/secret/rotate`, key, {});
    expect(first.statusCode).toBe(200);
    const again = await send(admin, 'POST', `/organizations/${org}/clients/${created.client_id}/secret/rotate`, key, {});
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const { client_secret, ...rest } = first.json() as { client_secret: string };
    expect(again.json()).toMatchObject(rest);
    expect(again.json()).not.toHaveProperty('client_secret');
    expect((await tokenRequest(p.app, { clientId: created.client_id, secret: client_secret }, { audience: api })).statusCode).toBe(200);
    expect(await auditActions(created.client_id)).toEqual(['client.secret_rotated', 'client.created']);
  });

  it('a repeated delete answers 204 again, and deletes once', async () => {
    const created = (await send(admin, 'POST', `/organizations/${org}/clients`, undefined, { name: 'Deleted', roles: ['meter-reader'] })).json() as { client_id: string };
    const key = randomUUID();
    const first = await send(admin, 'DELETE', `/organizations/${org}/clients/${created.client_id}`, key);
    expect(first.statusCode).toBe(204);
    const again = await send(admin, 'DELETE', `/organizations/${org}/clients/${created.client_id}`, key);
    expect(again.statusCode).toBe(204);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe('');
    // Without the key, a second delete is evaluated: the client is gone.
    expect((await send(admin, 'DELETE', `/organizations/${org}/clients/${created.client_id}`, undefined)).statusCode).toBe(404);
    expect(await auditActions(created.client_id)).toEqual(['client.deleted', 'client.created']);
  });

  it('the same key with another body, path or method → 409 conflict, and nothing changes', async () => {
    const key = randomUUID();
    expect((await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'First body', roles: ['meter-reader'] })).statusCode).toBe(201);
    const other = await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'Second body', roles: ['meter-reader'] });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toEqual({ error: 'conflict', message: 'This Idempotency-Key was used for another request (method, path or body); use a new key for a new request.' });
    const otherPath = await send(admin, 'POST', `/organizations/${org}/members`, key, { email: 'x@acme.example.com', role: 'member' });
    expect(otherPath.statusCode).toBe(409);
    expect(await clientNames()).not.toContain('Second body');
  });

  it('another caller with the same key is independent: user and client token alike', async () => {
    const key = randomUUID();
    const mine = await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'Mine', roles: ['meter-reader'] });
    const theirs = await send(otherAdmin, 'POST', `/organizations/${org}/clients`, key, { name: 'Mine', roles: ['meter-reader'] });
    const token = await (await managementClient(p.app, p.runtime, org)).tokenFor('clients:write');
    const bots = await send(token, 'POST', `/organizations/${org}/clients`, key, { name: 'Mine', roles: ['meter-reader'] });
    for (const res of [mine, theirs, bots]) {
      expect(res.statusCode).toBe(201);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
    }
    expect(new Set([mine, theirs, bots].map((r) => r.json().client_id)).size).toBe(3);
    const botsAgain = await send(token, 'POST', `/organizations/${org}/clients`, key, { name: 'Mine', roles: ['meter-reader'] });
    expect(botsAgain.headers['idempotent-replayed']).toBe('true');
    expect(botsAgain.json().client_id).toBe(bots.json().client_id);
  });

  it('an error answer is not kept: the change it refused can be retried with the same key', async () => {
    const key = randomUUID();
    const refused = await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'Later', roles: ['no-such-role'] });
    expect(refused.statusCode).toBe(400);
    await p.runtime.catalogService.createRole({ id: 'no-such-role', name: 'Now it exists', permissions: [] }, SYSTEM_ACTOR);
    const retried = await send(admin, 'POST', `/organizations/${org}/clients`, key, { name: 'Later', roles: ['no-such-role'] });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses a malformed key with 400 invalid_request naming the header, before anything changes', async () => {
    for (const bad of ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
      const res = await send(admin, 'POST', `/organizations/${org}/clients`, bad, { name: 'Bad key', roles: ['meter-reader'] });
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      const body = res.json() as { error: string; details: { field: string }[] };
      expect(body.error).toBe('invalid_request');
      expect(body.details.map((d) => d.field)).toEqual(['/headers/idempotency-key']);
    }
    expect(await clientNames()).not.toContain('Bad key');
    const longest = await send(admin, 'POST', `/organizations/${org}/clients`, '~'.repeat(255), { name: 'Long key', roles: ['meter-reader'] });
    expect(longest.statusCode).toBe(201);
  });

  it('hashes a body however deeply it nests: refused by its schema with 400, never a 500 (the fuzz suite found the overflow)', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const res = await p.app.inject({
      method: 'POST',
      url: `/api/v1/organizations/${org}/clients`,
      headers: { ...admin.headers('POST'), 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
      payload: `{"name":"Deep","roles":${deep}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('forgets a key after 24 hours: the same request is then applied anew, and housekeeping prunes it', async () => {
    const key = randomUUID();
    const body = { name: 'Daily', roles: ['meter-reader'] };
    const first = await send(admin, 'POST', `/organizations/${org}/clients`, key, body);
    p.clock.advance(IDEMPOTENCY_KEY_TTL_SECONDS - 60);
    // Sessions end sooner than keys; the key is the user's, whichever session sends it.
    admin = await signIn(p.app, 'admin@acme.example.com');
    const withinDay = await send(admin, 'POST', `/organizations/${org}/clients`, key, body);
    expect(withinDay.headers['idempotent-replayed']).toBe('true');
    expect(withinDay.json().client_id).toBe(first.json().client_id);
    p.clock.advance(120);
    admin = await signIn(p.app, 'admin@acme.example.com');
    const nextDay = await send(admin, 'POST', `/organizations/${org}/clients`, key, body);
    expect(nextDay.statusCode).toBe(201);
    expect(nextDay.headers['idempotent-replayed']).toBeUndefined();
    expect(nextDay.json().client_id).not.toBe(first.json().client_id);

    const keyOf = (k: string) => p.runtime.store.db.selectFrom('idempotency_keys').select('key').where('key', '=', k).execute();
    const stale = randomUUID();
    await send(admin, 'POST', `/organizations/${org}/clients`, stale, { name: 'Stale', roles: ['meter-reader'] });
    expect(await keyOf(stale)).toHaveLength(1);
    p.clock.advance(IDEMPOTENCY_KEY_TTL_SECONDS + 1);
    await p.runtime.housekeeping.run();
    expect(await keyOf(stale)).toHaveLength(0);
    admin = await signIn(p.app, 'admin@acme.example.com');
    otherAdmin = await signIn(p.app, 'other@acme.example.com');
  });

  it('concurrent duplicates apply once: the second waits for the first and gets its answer', async () => {
    const key = randomUUID();
    const body = { name: 'Raced', roles: ['meter-reader'] };
    const answers = await Promise.all(Array.from({ length: 4 }, () => send(admin, 'POST', `/organizations/${org}/clients`, key, body)));
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201, 201]);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(3);
    expect(new Set(answers.map((a) => a.json().client_id)).size).toBe(1);
    expect((await clientNames()).filter((n) => n === 'Raced')).toHaveLength(1);
  });

  it('a public route validates the key but has no caller to remember it for', async () => {
    const bad = await p.app.inject({ method: 'POST', url: '/api/v1/session', headers: { 'idempotency-key': '' }, payload: { email: 'admin@acme.example.com', password: 'wrong' } });
    expect(bad.statusCode).toBe(400);
    const key = randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/v1/session',
        headers: { 'idempotency-key': key },
        payload: { email: 'admin@acme.example.com', password: 'correct horse battery staple' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
    }
  });

  it('declares the header on every unsafe route of the OpenAPI document, and on no safe one', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
    let unsafe = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const [method, op] of Object.entries(operations)) {
        const declared = (op.parameters ?? []).some((x) => x.in === 'header' && x.name === 'idempotency-key');
        expect(declared, `${method} ${path}`).toBe(['post', 'put', 'patch', 'delete'].includes(method));
        if (declared) unsafe++;
      }
    }
    expect(unsafe).toBeGreaterThan(10);
  });
});
