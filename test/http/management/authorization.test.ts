import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { testDatabases } from '../../helpers/databases.js';
import { anonymous, call, createUser, managementClient, signIn, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';

type Who = 'platformAdmin' | 'orgAdmin' | 'orgMember' | 'outsider' | 'tokenWith' | 'tokenWithout' | 'otherOrgToken' | 'anonymous';

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** The path, given a fresh client id of organization A (for routes that change or delete one). */
  path: (ctx: { org: string; client: string }) => string;
  body?: unknown;
  /** The management permission a token needs here (tokenWith has exactly it, tokenWithout has all others). */
  permission?: string;
  expect: Record<Who, number>;
}

const orgRead = { platformAdmin: 200, orgAdmin: 200, orgMember: 200, outsider: 404, tokenWith: 200, tokenWithout: 403, otherOrgToken: 404, anonymous: 401 };
const orgWrite = (ok: number) => ({ platformAdmin: ok, orgAdmin: ok, orgMember: 403, outsider: 404, tokenWith: ok, tokenWithout: 403, otherOrgToken: 404, anonymous: 401 });
const adminOnlyNoTokens = { platformAdmin: 200, orgAdmin: 200, orgMember: 403, outsider: 404, tokenWith: 403, tokenWithout: 403, otherOrgToken: 404, anonymous: 401 };
const platform = (ok: number) => ({ platformAdmin: ok, orgAdmin: 403, orgMember: 403, outsider: 403, tokenWith: 403, tokenWithout: 403, otherOrgToken: 403, anonymous: 401 });
const anyUser = (tokenOk: number) => ({ platformAdmin: 200, orgAdmin: 200, orgMember: 200, outsider: 200, tokenWith: tokenOk, tokenWithout: 403, otherOrgToken: tokenOk, anonymous: 401 });

const rows: Row[] = [
  { name: 'list clients', method: 'GET', path: ({ org }) => `/organizations/${org}/clients`, permission: 'clients:read', expect: orgRead },
  { name: 'get a client', method: 'GET', path: ({ org, client }) => `/organizations/${org}/clients/${client}`, permission: 'clients:read', expect: orgRead },
  { name: 'create a client', method: 'POST', path: ({ org }) => `/organizations/${org}/clients`, body: { name: 'new', roles: [] }, permission: 'clients:write', expect: orgWrite(201) },
  { name: 'rename a client', method: 'PATCH', path: ({ org, client }) => `/organizations/${org}/clients/${client}`, body: { name: 'renamed' }, permission: 'clients:write', expect: orgWrite(200) },
  {
    name: 'set client roles',
    method: 'PUT',
    path: ({ org, client }) => `/organizations/${org}/clients/${client}/roles`,
    body: { roles: ['client-reader'] },
    permission: 'clients:write',
    expect: orgWrite(200),
  },
  { name: 'rotate a secret', method: 'POST', path: ({ org, client }) => `/organizations/${org}/clients/${client}/secret/rotate`, body: {}, permission: 'clients:write', expect: orgWrite(200) },
  { name: 'delete a client', method: 'DELETE', path: ({ org, client }) => `/organizations/${org}/clients/${client}`, permission: 'clients:write', expect: orgWrite(204) },
  { name: 'list assignable roles', method: 'GET', path: ({ org }) => `/organizations/${org}/roles`, permission: 'roles:read', expect: orgRead },
  {
    name: 'read the audit log',
    method: 'GET',
    path: ({ org }) => `/organizations/${org}/audit-events`,
    permission: 'audit:read',
    expect: { ...orgRead, orgMember: 403 },
  },
  { name: 'list members', method: 'GET', path: ({ org }) => `/organizations/${org}/members`, expect: adminOnlyNoTokens },
  {
    name: 'get the organization',
    method: 'GET',
    path: ({ org }) => `/organizations/${org}`,
    expect: { platformAdmin: 200, orgAdmin: 200, orgMember: 200, outsider: 404, tokenWith: 403, tokenWithout: 403, otherOrgToken: 404, anonymous: 401 },
  },
  {
    name: 'rename the organization',
    method: 'PATCH',
    path: ({ org }) => `/organizations/${org}`,
    body: { name: 'Org A' },
    expect: { platformAdmin: 200, orgAdmin: 403, orgMember: 403, outsider: 404, tokenWith: 403, tokenWithout: 403, otherOrgToken: 404, anonymous: 401 },
  },
  { name: 'create an organization', method: 'POST', path: () => '/organizations', body: { name: 'Another' }, expect: platform(201) },
  { name: 'list users', method: 'GET', path: () => '/users', expect: platform(200) },
  { name: 'create an API', method: 'POST', path: () => `/apis`, body: { identifier: `https://x-${Math.random()}.example.com/`, name: 'X', permissions: [] }, expect: platform(201) },
  { name: 'list APIs', method: 'GET', path: () => '/apis', permission: 'roles:read', expect: anyUser(200) },
  { name: 'list roles', method: 'GET', path: () => '/roles', permission: 'roles:read', expect: anyUser(200) },
  { name: 'create a role', method: 'POST', path: () => '/roles', body: { name: 'Some role', permissions: [] }, expect: platform(201) },
  {
    name: 'read /me',
    method: 'GET',
    path: () => '/me',
    expect: { platformAdmin: 200, orgAdmin: 200, orgMember: 200, outsider: 200, tokenWith: 403, tokenWithout: 403, otherOrgToken: 403, anonymous: 401 },
  },
];

const ALL = ['clients:read', 'clients:write', 'roles:read', 'audit:read'];

describe.each(testDatabases())('management API authorization matrix on $name', (db) => {
  let p: TestPortcullis;
  let orgA: string;
  const callers = {} as Record<Exclude<Who, 'tokenWith' | 'tokenWithout'>, Caller>;
  let tokens: { tokenFor(scope?: string): Promise<Caller> };

  beforeAll(async () => {
    p = await startPortcullis(await db.open());
    const { runtime, app } = p;
    orgA = (await runtime.organizations.create({ name: 'A' }, SYSTEM_ACTOR)).id;
    const orgB = (await runtime.organizations.create({ name: 'B' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'root@example.com', { platformAdmin: true });
    await createUser(runtime, 'admin@a.example.com', { orgId: orgA, role: 'admin' });
    await createUser(runtime, 'member@a.example.com', { orgId: orgA, role: 'member' });
    await createUser(runtime, 'admin@b.example.com', { orgId: orgB, role: 'admin' });
    callers.platformAdmin = await signIn(app, 'root@example.com');
    callers.orgAdmin = await signIn(app, 'admin@a.example.com');
    callers.orgMember = await signIn(app, 'member@a.example.com');
    callers.outsider = await signIn(app, 'admin@b.example.com');
    callers.anonymous = anonymous;
    tokens = await managementClient(app, runtime, orgA);
    callers.otherOrgToken = await (await managementClient(app, runtime, orgB)).tokenFor();
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  for (const row of rows) {
    it(`${row.method} ${row.name}`, async () => {
      const results: Record<string, number> = {};
      const expected: Record<string, number> = {};
      for (const who of Object.keys(row.expect) as Who[]) {
        let caller: Caller;
        if (who === 'tokenWith') caller = await tokens.tokenFor(row.permission ?? ALL.join(' '));
        else if (who === 'tokenWithout') caller = await tokens.tokenFor(ALL.filter((s) => s !== row.permission).join(' '));
        else caller = callers[who];
        const { client } = await p.runtime.clients.create(orgA, { name: 'target', roles: [] }, SYSTEM_ACTOR);
        const res = await call(p.app, caller, row.method, row.path({ org: orgA, client: client.client_id }), row.body);
        results[who] = res.statusCode;
        expected[who] = row.expect[who];
        if (res.statusCode >= 400) {
          const body = res.json() as { error: string; message: string };
          expect(typeof body.message).toBe('string');
          expect(body.error).toBe({ 400: 'invalid_request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found' }[res.statusCode as 400]);
        }
      }
      expect(results).toEqual(expected);
    });
  }
});

describe.each(testDatabases())('MANAGEMENT_RATE_LIMIT on $name', (db) => {
  const get = (p: TestPortcullis, remoteAddress: string) => p.app.inject({ method: 'GET', url: '/api/v1/organizations', remoteAddress });

  it('limits management requests per address: 429 rate_limited with Retry-After, other addresses unaffected', async () => {
    const p = await startPortcullis(await db.open(), { env: { MANAGEMENT_RATE_LIMIT: '3' } });
    try {
      for (let i = 0; i < 3; i++) expect((await get(p, '10.1.1.1')).statusCode).toBe(401);
      const limited = await get(p, '10.1.1.1');
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ error: 'rate_limited' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await get(p, '10.2.2.2')).statusCode).toBe(401);
    } finally {
      await p.close();
    }
  });

  it('0 turns the limit off', async () => {
    const p = await startPortcullis(await db.open(), { env: { MANAGEMENT_RATE_LIMIT: '0' } });
    try {
      const statuses = new Set<number>();
      for (let i = 0; i < 30; i++) statuses.add((await get(p, '10.1.1.1')).statusCode);
      expect([...statuses]).toEqual([401]);
    } finally {
      await p.close();
    }
  });
});
