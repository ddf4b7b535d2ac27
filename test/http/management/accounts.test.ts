import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { testDatabases } from '../../helpers/databases.js';
import { call, createUser, PASSWORD, signIn, tokenOf, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';
import { tempDataDir } from '../../helpers/server.js';

describe.each(testDatabases())('accounts, sessions, members and the catalog on $name', (db) => {
  let p: TestPortcullis;
  let root: Caller;

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), { env: { AUTH_FAILURES_PER_IP: '1000' } });
    await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
    root = await signIn(p.app, 'root@example.com');
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  describe('sessions', () => {
    it('signs in with an HttpOnly, SameSite=Lax cookie and answers {user, csrf_token}', async () => {
      await createUser(p.runtime, 'Alice@Example.com');
      const res = await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'alice@example.com', password: PASSWORD } });
      expect(res.statusCode).toBe(200);
      const [cookie, marker, ...more] = res.headers['set-cookie'] as string[];
      expect(cookie).toMatch(/^portcullis_session=[\w-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Lax$/);
      // Beside it, a marker the page can read (no credential: it only says a session may exist), with the same lifetime.
      expect(marker).toBe('portcullis_signed_in=1; Max-Age=43200; Path=/; SameSite=Lax');
      expect(more).toEqual([]);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['csrf_token', 'user']);
      expect(body.user).toMatchObject({ email: 'alice@example.com', platform_admin: false, organizations: [] });
    });

    it('refuses a wrong password and an unknown email alike', async () => {
      const wrong = await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'root@example.com', password: 'not the password' } });
      const unknown = await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'nobody@example.com', password: PASSWORD } });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual({ error: 'unauthenticated', message: 'Email or password is wrong.' });
      expect(unknown.json()).toEqual(wrong.json());
    });

    it('throttles sign-in per account from one address: 429 rate_limited with Retry-After, even for the right password', async () => {
      await createUser(p.runtime, 'target@example.com');
      for (let i = 0; i < 10; i++) {
        expect((await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'target@example.com', password: 'guess' } })).statusCode).toBe(401);
      }
      const res = await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'target@example.com', password: PASSWORD } });
      expect(res.statusCode).toBe(429);
      expect(res.json()).toMatchObject({ error: 'rate_limited' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // From another address, the owner signs in.
      const elsewhere = await p.app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress: '10.7.7.7', payload: { email: 'target@example.com', password: PASSWORD } });
      expect(elsewhere.statusCode).toBe(200);
    });

    it('GET /session returns the same csrf token; unsafe requests without it are 403', async () => {
      const me = await signIn(p.app, 'root@example.com');
      const again = await call(p.app, me, 'GET', '/session');
      expect(again.json().csrf_token).toBe(me.csrf);
      const noCsrf = await p.app.inject({ method: 'POST', url: '/api/v1/organizations', headers: { cookie: `portcullis_session=${me.cookie}` }, payload: { name: 'x' } });
      expect(noCsrf.statusCode).toBe(403);
      expect(noCsrf.json().error).toBe('forbidden');
      const wrongCsrf = await p.app.inject({ method: 'POST', url: '/api/v1/organizations', headers: { cookie: `portcullis_session=${me.cookie}`, 'x-csrf-token': 'nope' }, payload: { name: 'x' } });
      expect(wrongCsrf.statusCode).toBe(403);
    });

    it('signs out server-side: the cookie stops working', async () => {
      const me = await signIn(p.app, 'root@example.com');
      const out = await call(p.app, me, 'DELETE', '/session');
      expect(out.statusCode).toBe(204);
      expect(out.headers['set-cookie']).toEqual(['portcullis_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax', 'portcullis_signed_in=; Max-Age=0; Path=/; SameSite=Lax']);
      expect((await call(p.app, me, 'GET', '/me')).statusCode).toBe(401);
    });

    it('ends sessions after 12 hours', async () => {
      const me = await signIn(p.app, 'root@example.com');
      p.clock.advance(12 * 3600 + 1);
      expect((await call(p.app, me, 'GET', '/me')).statusCode).toBe(401);
      root = await signIn(p.app, 'root@example.com');
    });
  });

  describe('users and invitations', () => {
    it('creates a user without a password and returns a one-time invite link that sets it', async () => {
      const res = await call(p.app, root, 'POST', '/users', { email: 'Invited@Example.com', name: 'Invited' });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      expect(body).toMatchObject({ email: 'invited@example.com', name: 'Invited', platform_admin: false, has_password: false, email_verified: false });
      expect(body.invite_url).toMatch(/^http:\/\/localhost:8080\/invite\?token=[0-9A-Za-z]{43}$/);
      const token = new URL(body.invite_url).searchParams.get('token');
      const short = await p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', payload: { token, password: 'short' } });
      expect(short.statusCode).toBe(400);
      const ok = await p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', payload: { token, password: 'a long enough password' } });
      expect(ok.statusCode).toBe(200);
      // The platform admin received the link: nothing shows the owner of the address chose the password.
      expect(ok.json()).toMatchObject({ has_password: true, email_verified: false });
      const again = await p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', payload: { token, password: 'another long password' } });
      expect(again.statusCode).toBe(400);
      await signIn(p.app, 'invited@example.com', 'a long enough password');
    });

    it('lists, reads, changes and deletes users; duplicate emails are 409; no password hash ever leaves', async () => {
      const created = (await call(p.app, root, 'POST', '/users', { email: 'bob@example.com', password: PASSWORD })).json();
      expect(created.invite_url).toBeUndefined();
      expect(created.email_verified).toBe(true);
      expect((await call(p.app, root, 'POST', '/users', { email: 'BOB@example.com' })).statusCode).toBe(409);
      const list = await call(p.app, root, 'GET', '/users?limit=200');
      expect(list.statusCode).toBe(200);
      expect(list.body).not.toContain('argon2');
      expect(list.json().data.map((u: { email: string }) => u.email)).toContain('bob@example.com');
      const patched = await call(p.app, root, 'PATCH', `/users/${created.id}`, { name: 'Bob', platform_admin: true });
      expect(patched.json()).toMatchObject({ name: 'Bob', platform_admin: true });
      expect((await call(p.app, root, 'DELETE', `/users/${created.id}`)).statusCode).toBe(204);
      expect((await call(p.app, root, 'GET', `/users/${created.id}`)).statusCode).toBe(404);
    });
  });

  describe('organizations and members', () => {
    it('creates an organization, invites members by email, and keeps one active admin', async () => {
      const org = (await call(p.app, root, 'POST', '/organizations', { name: 'Globex' })).json();
      expect(org).toMatchObject({ name: 'Globex' });
      const adminAdd = await call(p.app, root, 'POST', `/organizations/${org.id}/members`, { email: 'boss@globex.example.com', role: 'admin' });
      expect(adminAdd.statusCode).toBe(201);
      expect(adminAdd.json()).toMatchObject({ email: 'boss@globex.example.com', role: 'admin', status: 'invited', email_verified: false });
      expect(adminAdd.json().invite_url).toMatch(/\/invite\?token=/);
      const again = await call(p.app, root, 'POST', `/organizations/${org.id}/members`, { email: 'boss@globex.example.com', role: 'member' });
      expect(again.statusCode).toBe(409);
      expect(again.json().message).toBe('boss@globex.example.com has been invited already.');

      // An existing account is invited too, and its name stays hidden until it accepts.
      const existing = await call(p.app, root, 'POST', `/organizations/${org.id}/members`, { email: 'root@example.com', role: 'member' });
      expect(existing.statusCode).toBe(201);
      expect(existing.json()).toMatchObject({ email: 'root@example.com', name: '', status: 'invited', email_verified: true });
      expect(existing.json().invite_url).toMatch(/\/invite\?token=/);

      const list = async () =>
        (await call(p.app, root, 'GET', `/organizations/${org.id}/members`)).json().data.map((m: { email: string; role: string; status: string }) => [m.email, m.role, m.status]);
      expect(await list()).toEqual([
        ['boss@globex.example.com', 'admin', 'invited'],
        ['root@example.com', 'member', 'invited'],
      ]);
      const bossId = adminAdd.json().user_id;
      const accepted = await p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', payload: { token: tokenOf(adminAdd.json().invite_url), name: 'Boss', password: PASSWORD } });
      expect(accepted.statusCode, accepted.body).toBe(200);
      expect(accepted.json()).toMatchObject({ email: 'boss@globex.example.com', name: 'Boss', has_password: true, email_verified: false });
      const rootAccepts = await call(p.app, root, 'POST', '/invites/accept', { token: tokenOf(existing.json().invite_url) });
      expect(rootAccepts.statusCode, rootAccepts.body).toBe(200);
      expect(await list()).toEqual([
        ['boss@globex.example.com', 'admin', 'active'],
        ['root@example.com', 'member', 'active'],
      ]);

      const demote = await call(p.app, root, 'PATCH', `/organizations/${org.id}/members/${bossId}`, { role: 'member' });
      expect(demote.statusCode).toBe(409);
      expect((await call(p.app, root, 'DELETE', `/organizations/${org.id}/members/${bossId}`)).statusCode).toBe(409);
      expect((await call(p.app, root, 'PATCH', `/organizations/${org.id}/members/${existing.json().user_id}`, { role: 'admin' })).statusCode).toBe(200);
      expect((await call(p.app, root, 'DELETE', `/organizations/${org.id}/members/${bossId}`)).statusCode).toBe(204);

      const me = await call(p.app, root, 'GET', '/me');
      expect(me.json().organizations).toEqual(expect.arrayContaining([{ id: org.id, name: 'Globex', role: 'admin' }]));
    });

    it("lists only a user's own organizations, all of them for a platform admin", async () => {
      const mine = (await p.runtime.organizations.create({ name: 'Mine' }, SYSTEM_ACTOR)).id;
      await p.runtime.organizations.create({ name: 'Not mine' }, SYSTEM_ACTOR);
      await createUser(p.runtime, 'carol@example.com', { orgId: mine, role: 'member' });
      const carol = await signIn(p.app, 'carol@example.com');
      const res = await call(p.app, carol, 'GET', '/organizations');
      expect(res.json().data.map((o: { name: string }) => o.name)).toEqual(['Mine']);
      const all = await call(p.app, root, 'GET', '/organizations?limit=200');
      expect(all.json().data.map((o: { name: string }) => o.name)).toEqual(expect.arrayContaining(['Mine', 'Not mine']));
    });

    it('deleting an organization deletes its clients: their secrets fail at once', async () => {
      const org = (await p.runtime.organizations.create({ name: 'Doomed' }, SYSTEM_ACTOR)).id;
      const { client, client_secret } = await p.runtime.clients.create(org, { name: 'c', roles: ['client-reader'] }, SYSTEM_ACTOR);
      const audience = `${p.config.issuer}/api/v1/`;
      const ask = () => p.app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'client_credentials', client_id: client.client_id, client_secret, audience } });
      expect((await ask()).statusCode).toBe(200);
      expect((await call(p.app, root, 'DELETE', `/organizations/${org}`)).statusCode).toBe(204);
      expect((await ask()).statusCode).toBe(401);
    });
  });

  describe('catalog', () => {
    it('creates APIs and roles (slug ids), refuses duplicates, and protects the built-in API', async () => {
      const api = await call(p.app, root, 'POST', '/apis', {
        identifier: 'https://billing.example.com/',
        name: 'Billing',
        permissions: [{ value: 'invoices:read', description: 'Read invoices' }],
        access_token_ttl: 900,
      });
      expect(api.statusCode).toBe(201);
      expect(api.json()).toMatchObject({ identifier: 'https://billing.example.com/', access_token_ttl: 900, built_in: false });
      expect((await call(p.app, root, 'POST', '/apis', { identifier: 'https://billing.example.com/', name: 'Again', permissions: [] })).statusCode).toBe(409);
      const role = await call(p.app, root, 'POST', '/roles', { name: 'Invoice Reader', description: 'Reads invoices', permissions: [{ api: 'https://billing.example.com/', value: 'invoices:read' }] });
      expect(role.statusCode).toBe(201);
      expect(role.json()).toMatchObject({ id: 'invoice-reader', permissions: [{ api: 'https://billing.example.com/', value: 'invoices:read' }] });
      const bad = await call(p.app, root, 'POST', '/roles', { name: 'Bad', permissions: [{ api: 'https://billing.example.com/', value: 'invoices:write' }] });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().details).toEqual([{ field: '/body/permissions/0', message: 'API "https://billing.example.com/" has no permission "invoices:write"' }]);

      const apis = (await call(p.app, root, 'GET', '/apis')).json().data as { id: string; identifier: string; built_in: boolean; permissions: { value: string }[] }[];
      const builtIn = apis.find((a) => a.built_in);
      expect(builtIn?.identifier).toBe('http://localhost:8080/api/v1/');
      expect(builtIn?.permissions.map((x) => x.value)).toEqual(['audit:read', 'clients:read', 'clients:write', 'roles:read']);
      expect((await call(p.app, root, 'DELETE', `/apis/${builtIn?.id}`)).statusCode).toBe(409);
      expect((await call(p.app, root, 'PATCH', `/apis/${builtIn?.id}`, { name: 'Mine now' })).statusCode).toBe(409);

      const roles = (await call(p.app, root, 'GET', '/roles')).json().data.map((r: { id: string }) => r.id);
      expect(roles).toEqual(expect.arrayContaining(['client-manager', 'client-reader', 'invoice-reader']));
    });
  });

  it('serves the OpenAPI document with the management routes, and the reference UI at /docs', async () => {
    const doc = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    for (const route of ['/api/v1/organizations/{org}/clients', '/api/v1/organizations/{org}/clients/{client_id}/secret/rotate', '/api/v1/session', '/api/v1/me', '/oauth/token']) {
      expect(Object.keys(doc.paths)).toContain(route);
    }
    const ui = await p.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('first administrator', () => {
  it('creates the platform administrator from ADMIN_EMAIL/ADMIN_PASSWORD on a start with no users', async () => {
    const [db] = testDatabases();
    const p = await startPortcullis(await db!.open(), { env: { ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: PASSWORD } });
    try {
      const me = await call(p.app, await signIn(p.app, 'ops@example.com'), 'GET', '/me');
      expect(me.json()).toMatchObject({ email: 'ops@example.com', platform_admin: true });
    } finally {
      await p.close();
    }
  });

  it('without them, a one-time setup link creates the first administrator, once', async () => {
    const [db] = testDatabases();
    const p = await startPortcullis(await db!.open());
    try {
      // The sign-in page asks whether to point at the setup link: anyone may, and learns only that.
      const status = await p.app.inject({ method: 'GET', url: '/api/v1/setup' });
      expect(status.statusCode).toBe(200);
      expect(status.headers['cache-control']).toBe('no-store');
      expect(status.json()).toEqual({ setup_required: true });
      const link = await p.runtime.users.setupLink();
      expect(link).toMatch(/^http:\/\/localhost:8080\/setup\?token=[0-9A-Za-z]{43}$/);
      const token = new URL(link!).searchParams.get('token');
      const res = await p.app.inject({ method: 'POST', url: '/api/v1/setup', payload: { token, email: 'first@example.com', password: PASSWORD } });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ email: 'first@example.com', platform_admin: true });
      const again = await p.app.inject({ method: 'POST', url: '/api/v1/setup', payload: { token, email: 'second@example.com', password: PASSWORD } });
      expect(again.statusCode).toBe(400);
      expect(await p.runtime.users.setupLink()).toBeUndefined();
      expect((await p.app.inject({ method: 'GET', url: '/api/v1/setup' })).json()).toEqual({ setup_required: false });
    } finally {
      await p.close();
    }
  });
});

describe('CATALOG_FILE', () => {
  it('applies APIs and roles from YAML at start, idempotently', async () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'catalog.yaml');
    fs.writeFileSync(
      file,
      [
        'apis:',
        '  - identifier: https://meters.example.com/',
        '    name: Meters',
        '    access_token_ttl: 600',
        '    permissions:',
        '      - { value: meters:read, description: Read meters }',
        '      - { value: meters:write }',
        'roles:',
        '  - id: meter-reader',
        '    name: Meter reader',
        '    permissions:',
        '      - { api: https://meters.example.com/, value: meters:read }',
      ].join('\n'),
    );
    const [db] = testDatabases();
    const p = await startPortcullis(await db!.open(), { env: { CATALOG_FILE: file } });
    try {
      const api = p.runtime.catalog.snapshot.apiByIdentifier('https://meters.example.com/');
      expect(api).toMatchObject({ accessTokenTtl: 600, permissions: ['meters:read', 'meters:write'] });
      expect((await p.runtime.catalogService.getRole('meter-reader')).permissions).toEqual([{ api: 'https://meters.example.com/', value: 'meters:read' }]);
      const { applyCatalogFile, readCatalogFile } = await import('../../../src/catalog/catalog-file.js');
      expect(await applyCatalogFile(p.runtime.catalogService, readCatalogFile(file), SYSTEM_ACTOR)).toEqual({ created: 0, updated: 0 });
      fs.writeFileSync(path.join(dir, 'bad.yaml'), 'apis:\n  - name: no identifier\n');
      expect(() => readCatalogFile(path.join(dir, 'bad.yaml'))).toThrow(/bad\.yaml is invalid/);
    } finally {
      await p.close();
    }
  });
});

describe.each(testDatabases())('sign-in cannot be used to lock an account out, on $name', (db) => {
  let p: TestPortcullis;
  beforeAll(async () => {
    p = await startPortcullis(await db.open()); // the default limits
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  const signInFrom = (remoteAddress: string, email: string, password: string) => p.app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress, payload: { email, password } });

  it('1,000 wrong passwords from one address: the owner signs in from another every time, and that address is throttled', async () => {
    await createUser(p.runtime, 'owner@example.com');
    const attacker = '203.0.113.66';
    const owner = '198.51.100.7';
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const res = await signInFrom(attacker, 'owner@example.com', `guess ${i}`);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (i % 50 === 49) expect((await signInFrom(owner, 'owner@example.com', PASSWORD)).statusCode, `the owner after ${i + 1} failures`).toBe(200);
    }
    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    expect(statuses.get(401)).toBeLessThanOrEqual(10);
    const right = await signInFrom(attacker, 'owner@example.com', PASSWORD);
    expect(right.statusCode).toBe(429);
    expect(right.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // Guessing on at other accounts, the address reaches AUTH_FAILURES_PER_IP and is refused for every account.
    await createUser(p.runtime, 'bystander@example.com');
    for (let i = 0; i < p.config.authFailuresPerIp; i++) await signInFrom(attacker, `someone-${i}@example.com`, 'guess');
    expect((await signInFrom(attacker, 'bystander@example.com', PASSWORD)).statusCode).toBe(429);
    expect((await signInFrom(owner, 'bystander@example.com', PASSWORD)).statusCode).toBe(200);
    expect((await signInFrom(owner, 'owner@example.com', PASSWORD)).statusCode).toBe(200);
  });

  it('guessing from many addresses: each address that failed for the account is refused for it, the owner from a clean address is not', async () => {
    await createUser(p.runtime, 'victim@example.com');
    const bots = Array.from({ length: 10 }, (_, i) => `192.0.2.${i + 1}`);
    for (const bot of bots) expect((await signInFrom(bot, 'victim@example.com', 'guess')).statusCode).toBe(401);
    // 10 failures for the account in all: each of those addresses is refused for it, even with the password…
    for (const bot of bots) expect((await signInFrom(bot, 'victim@example.com', PASSWORD)).statusCode, bot).toBe(429);
    // …a new address gets one guess, then is refused too…
    expect((await signInFrom('192.0.2.200', 'victim@example.com', 'guess')).statusCode).toBe(401);
    expect((await signInFrom('192.0.2.200', 'victim@example.com', PASSWORD)).statusCode).toBe(429);
    // …and the owner, from an address that has not failed, signs in; so do the bots to their own accounts.
    expect((await signInFrom('198.51.100.8', 'victim@example.com', PASSWORD)).statusCode).toBe(200);
    await createUser(p.runtime, 'bot@example.com');
    expect((await signInFrom(bots[0] as string, 'bot@example.com', PASSWORD)).statusCode).toBe(200);
    // Once the window has passed, the addresses are let in again.
    p.clock.advance(p.config.authFailureWindow + 1);
    expect((await signInFrom(bots[1] as string, 'victim@example.com', PASSWORD)).statusCode).toBe(200);
  });
});
