import type { RouteOptions } from 'fastify';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAccess, type AccessDeps } from '../../../src/http/management/access.js';
import { buildServer } from '../../../src/server.js';
import { testDatabases } from '../../helpers/databases.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';

/** The management routes anyone may call: everything else must say who may. */
const PUBLIC = ['POST /api/v1/session', 'GET /api/v1/setup', 'HEAD /api/v1/setup', 'POST /api/v1/setup', 'POST /api/v1/invites/lookup', 'POST /api/v1/invites/accept'];

describe('declared access of the management routes', () => {
  const [pglite] = testDatabases();
  let p: TestPortcullis;
  const routes: RouteOptions[] = [];

  beforeAll(async () => {
    p = await startPortcullis(await pglite!.open());
    const app = await buildServer(p.runtime, { onRoute: (route) => void routes.push(route) });
    await app.close();
  });
  afterAll(async () => {
    await p?.close();
  });

  const management = () => routes.filter((r) => r.url.startsWith('/api/v1/'));
  const name = (r: RouteOptions) => `${String(r.method)} ${r.url}`;

  it('every route under /api/v1 declares its access; only sign-in, setup and invitations are public', () => {
    expect(management().length).toBeGreaterThan(30);
    const undeclared = management()
      .filter((r) => !r.config?.access)
      .map(name);
    expect(undeclared).toEqual([]);
    const open = management()
      .filter((r) => r.config?.access && 'public' in r.config.access)
      .map(name)
      .sort();
    expect(open).toEqual([...PUBLIC].sort());
  });

  it('every route whose access names an organization has an :org parameter', () => {
    const orgScoped = management().filter((r) => r.config?.access && 'org' in r.config.access);
    expect(orgScoped.length).toBeGreaterThan(10);
    expect(orgScoped.filter((r) => !r.url.includes('/:org')).map(name)).toEqual([]);
  });

  it('refuses to register a route that declares no access', async () => {
    const app = Fastify();
    const registering = (async () => {
      await app.register(async (scope) => {
        installAccess(scope, {} as AccessDeps);
        scope.get('/forgotten', async () => 'open');
      });
      await app.ready();
    })();
    await expect(registering).rejects.toThrow('GET /forgotten declares no access (config.access)');
    await app.close();
  });
});
