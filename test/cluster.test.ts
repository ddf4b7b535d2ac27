import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../src/audit/actor.js';
import { eventually } from './helpers/eventually.js';
import { testDatabases } from './helpers/databases.js';
import { seedClient, startPortcullis, type TestPortcullis } from './helpers/portcullis.js';
import { freePort } from './helpers/server.js';
import { type ServerProcess, startServerProcess } from './helpers/spawn-server.js';

const postgres = testDatabases().filter((d) => d.name === 'postgres');

async function token(url: string, clientId: string, secret: string, audience: string) {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Two server processes on one PostgreSQL database: this test process (a Runtime) and a
 * `portcullis serve` child with WORKERS=2. A change made through one must reach the
 * other's cached grants via LISTEN/NOTIFY.
 */
describe.each(postgres)('changes reach every process on $name', (db) => {
  let here: TestPortcullis;
  let server: ServerProcess;

  beforeAll(async () => {
    const masterKey = randomBytes(32).toString('base64');
    here = await startPortcullis(await db.open(), { masterKey });
    server = await startServerProcess(await freePort(), {
      DATABASE_URL: db.url,
      MASTER_KEY: masterKey,
      ISSUER: here.config.issuer,
      WORKERS: '2',
      LOG_LEVEL: 'warn',
      TOKEN_RATE_LIMIT: '0',
      // The rotation test asks with the old secret until both workers refuse it: a worker that
      // learns late must not have throttled this address by then.
      AUTH_FAILURES_PER_CLIENT: '1000',
      SHUTDOWN_DRAIN_SECONDS: '0',
    });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await here?.close();
    await db.dispose();
  });

  it('runs WORKERS=2 as a primary with two worker processes', () => {
    // Linux: a process's parent is the 4th field of /proc/<pid>/stat.
    const children = fs
      .readdirSync('/proc')
      .filter((d) => /^[0-9]+$/.test(d))
      .filter((d) => {
        try {
          // Workers run the same script; tsx may add an esbuild helper process, which is not one.
          const parent = fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1];
          return parent === String(server.child.pid) && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('server-process.ts');
        } catch {
          return false;
        }
      });
    expect(children, server.output).toHaveLength(2);
  });

  it('a rotation in one process makes the old secret fail in the other (both workers)', async () => {
    const c = await seedClient(here.runtime);
    // Warm both workers' caches with the old secret.
    for (let i = 0; i < 10; i++) expect((await token(server.url, c.clientId, c.secret, c.apiIdentifier)).status).toBe(200);
    const rotated = await here.runtime.clients.rotateSecret(c.orgId, c.clientId, { gracePeriodSeconds: 0 }, SYSTEM_ACTOR);
    const refused = await eventually(async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => token(server.url, c.clientId, c.secret, c.apiIdentifier)));
      return results.every((r) => r.status === 401);
    });
    expect(refused, server.output).toBe(true);
    for (let i = 0; i < 6; i++) expect((await token(server.url, c.clientId, rotated.client_secret, c.apiIdentifier)).status).toBe(200);
  });

  it('a role change and a deletion in one process take effect in the other', async () => {
    const c = await seedClient(here.runtime, { permissions: ['a:read', 'a:write'], granted: ['a:read'] });
    for (let i = 0; i < 6; i++) expect((await token(server.url, c.clientId, c.secret, c.apiIdentifier)).body.scope).toBe('a:read');
    const writer = await here.runtime.catalogService.createRole({ name: `both ${c.clientId}`, permissions: [{ api: c.apiIdentifier, value: 'a:write' }] }, SYSTEM_ACTOR);
    await here.runtime.clients.setRoles(c.orgId, c.clientId, [c.roleId, writer.id], SYSTEM_ACTOR);
    expect(
      await eventually(async () => (await Promise.all(Array.from({ length: 6 }, () => token(server.url, c.clientId, c.secret, c.apiIdentifier)))).every((r) => r.body.scope === 'a:read a:write')),
      server.output,
    ).toBe(true);
    await here.runtime.clients.delete(c.orgId, c.clientId, SYSTEM_ACTOR);
    expect(
      await eventually(async () => (await Promise.all(Array.from({ length: 6 }, () => token(server.url, c.clientId, c.secret, c.apiIdentifier)))).every((r) => r.status === 401)),
      server.output,
    ).toBe(true);
  });
});
