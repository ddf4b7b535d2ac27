import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR, type Actor } from '../../src/audit/actor.js';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { SLUG_PATTERN, slugify } from '../../src/catalog/slug.js';
import { testDatabases } from '../helpers/databases.js';
import { startPortcullis, type TestPortcullis, apiError } from '../helpers/portcullis.js';

const ACTOR: Actor = { type: 'user', id: 'usr_admin' };

const perms = (...values: string[]) => values.map((value) => ({ value, description: `may ${value}` }));

describe.each(testDatabases())('CatalogService on $name', (db) => {
  let p: TestPortcullis;
  let n = 0;
  const unique = () => `${++n}-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    p = await startPortcullis(await db.open());
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  const catalog = () => p.runtime.catalogService;
  /** The snapshot the token path reads, and a freshly loaded one: they must agree. */
  async function snapshots() {
    return [p.runtime.catalog.snapshot, await loadCatalog(p.runtime.store.data.read)] as const;
  }
  async function permissionsOn(identifier: string, roleIds: string[]): Promise<string[]> {
    const [live, fresh] = await snapshots();
    const api = live.apiByIdentifier(identifier);
    const freshApi = fresh.apiByIdentifier(identifier);
    expect(api).toEqual(freshApi);
    if (!api || !freshApi) return [];
    const granted = live.permissionsOn(api, roleIds);
    expect(granted).toEqual(fresh.permissionsOn(freshApi, roleIds));
    return granted;
  }

  describe('APIs', () => {
    it('creates an API with its permissions, sorted, and an audit event', async () => {
      const identifier = `https://meters-${unique()}.example.com/`;
      const api = await catalog().createApi({ identifier, name: 'Meters', permissions: perms('meters:write', 'meters:read'), access_token_ttl: 900 }, ACTOR);
      expect(api).toEqual({
        id: expect.stringMatching(/^api_/),
        identifier,
        name: 'Meters',
        permissions: [
          { value: 'meters:read', description: 'may meters:read' },
          { value: 'meters:write', description: 'may meters:write' },
        ],
        access_token_ttl: 900,
        built_in: false,
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
      });
      expect(await catalog().getApi(api.id)).toEqual(api);
      expect((await catalog().listApis()).find((a) => a.id === api.id)).toEqual(api);
      const events = await p.runtime.store.db.selectFrom('audit_events').selectAll().where('target_id', '=', api.id).execute();
      expect(events).toMatchObject([{ action: 'api.created', org_id: null, actor_type: 'user', actor_id: 'usr_admin', target_type: 'api', details: { identifier, name: 'Meters' } }]);
    });

    it('a duplicate identifier is 409 and creates nothing', async () => {
      const identifier = `https://dup-${unique()}.example.com/`;
      const first = await catalog().createApi({ identifier, name: 'First', permissions: perms('a') }, ACTOR);
      const err = await apiError(catalog().createApi({ identifier, name: 'Second', permissions: perms('b') }, ACTOR));
      expect(err).toMatchObject({ code: 'conflict', status: 409, message: `An API with identifier "${identifier}" exists already.` });
      const rows = await p.runtime.store.db.selectFrom('apis').select(['id', 'name']).where('identifier', '=', identifier).execute();
      expect(rows).toEqual([{ id: first.id, name: 'First' }]);
      expect(await catalog().getApi(first.id)).toEqual(first);
    });

    it('duplicate permission values are 400 naming each repeat, on create and on update', async () => {
      const identifier = `https://twice-${unique()}.example.com/`;
      const err = await apiError(catalog().createApi({ identifier, name: 'Twice', permissions: perms('read', 'write', 'read', 'write') }, ACTOR));
      expect(err).toMatchObject({
        code: 'invalid_request',
        status: 400,
        details: [
          { field: '/body/permissions/2/value', message: '"read" is listed twice' },
          { field: '/body/permissions/3/value', message: '"write" is listed twice' },
        ],
      });
      expect(await p.runtime.store.db.selectFrom('apis').select('id').where('identifier', '=', identifier).execute()).toEqual([]);

      const api = await catalog().createApi({ identifier, name: 'Once', permissions: perms('read') }, ACTOR);
      const err2 = await apiError(catalog().updateApi(api.id, { permissions: perms('x', 'x') }, ACTOR));
      expect(err2).toMatchObject({ code: 'invalid_request', status: 400, details: [{ field: '/body/permissions/1/value', message: '"x" is listed twice' }] });
      expect(await catalog().getApi(api.id)).toEqual(api);
    });

    it('updating the permissions removes dropped ones from every role, keeps and re-describes the rest', async () => {
      const identifier = `https://upd-${unique()}.example.com/`;
      const api = await catalog().createApi({ identifier, name: 'Upd', permissions: perms('read', 'write', 'admin') }, ACTOR);
      const role = await catalog().createRole({ name: `Upd role ${unique()}`, permissions: ['read', 'write', 'admin'].map((value) => ({ api: identifier, value })) }, ACTOR);
      expect(await permissionsOn(identifier, [role.id])).toEqual(['admin', 'read', 'write']);

      const updated = await catalog().updateApi(
        api.id,
        {
          name: 'Upd 2',
          access_token_ttl: 120,
          permissions: [
            { value: 'read', description: 'read it all' },
            { value: 'delete', description: 'may delete' },
          ],
        },
        ACTOR,
      );
      expect(updated).toMatchObject({
        name: 'Upd 2',
        access_token_ttl: 120,
        permissions: [
          { value: 'delete', description: 'may delete' },
          { value: 'read', description: 'read it all' },
        ],
      });
      expect((await catalog().getRole(role.id)).permissions).toEqual([{ api: identifier, value: 'read' }]);
      expect(await permissionsOn(identifier, [role.id])).toEqual(['read']);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)).toMatchObject({ name: 'Upd 2', accessTokenTtl: 120, permissions: ['delete', 'read'] });

      const [event] = await p.runtime.store.db.selectFrom('audit_events').select('details').where('target_id', '=', api.id).where('action', '=', 'api.updated').execute();
      expect(Object.keys(event!.details).sort()).toEqual(['access_token_ttl', 'name', 'permissions']);

      // An empty list removes them all.
      await catalog().updateApi(api.id, { permissions: [] }, ACTOR);
      expect((await catalog().getApi(api.id)).permissions).toEqual([]);
      expect((await catalog().getRole(role.id)).permissions).toEqual([]);
      expect(await permissionsOn(identifier, [role.id])).toEqual([]);
    });

    it('deleting an API removes it and its permissions from roles and from the snapshot; the built-in one stays', async () => {
      const identifier = `https://gone-${unique()}.example.com/`;
      const keep = `https://kept-${unique()}.example.com/`;
      const api = await catalog().createApi({ identifier, name: 'Gone', permissions: perms('read') }, ACTOR);
      await catalog().createApi({ identifier: keep, name: 'Kept', permissions: perms('read') }, ACTOR);
      const role = await catalog().createRole(
        {
          name: `Gone role ${unique()}`,
          permissions: [
            { api: identifier, value: 'read' },
            { api: keep, value: 'read' },
          ],
        },
        ACTOR,
      );
      await catalog().deleteApi(api.id, ACTOR);
      expect(await apiError(catalog().getApi(api.id))).toMatchObject({ code: 'not_found', status: 404 });
      expect((await catalog().getRole(role.id)).permissions).toEqual([{ api: keep, value: 'read' }]);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)).toBeUndefined();
      expect(await permissionsOn(keep, [role.id])).toEqual(['read']);

      const builtIn = await catalog().createApi({ identifier: `https://builtin-${unique()}.example.com/api/v1/`, name: 'Management', permissions: perms('clients:read') }, SYSTEM_ACTOR, {
        builtIn: true,
      });
      expect(builtIn.built_in).toBe(true);
      expect(await apiError(catalog().deleteApi(builtIn.id, ACTOR))).toMatchObject({ code: 'conflict', status: 409 });
      expect(await catalog().getApi(builtIn.id)).toEqual(builtIn);
    });

    it('an unknown API is 404', async () => {
      expect(await apiError(catalog().getApi('api_nope'))).toMatchObject({ code: 'not_found', status: 404 });
      expect(await apiError(catalog().updateApi('api_nope', { name: 'x' }, ACTOR))).toMatchObject({ code: 'not_found', status: 404 });
      expect(await apiError(catalog().deleteApi('api_nope', ACTOR))).toMatchObject({ code: 'not_found', status: 404 });
    });
  });

  describe('roles', () => {
    it('derives the id from the name and makes it unique', async () => {
      const identifier = `https://slug-${unique()}.example.com/`;
      await catalog().createApi({ identifier, name: 'Slug', permissions: perms('read') }, ACTOR);
      const permissions = [{ api: identifier, value: 'read' }];
      const a = await catalog().createRole({ name: 'Meter Reader', description: 'Reads meters', permissions }, ACTOR);
      const b = await catalog().createRole({ name: 'Meter reader', permissions }, ACTOR);
      const c = await catalog().createRole({ name: ' meter  READER! ', permissions }, ACTOR);
      expect([a.id, b.id, c.id]).toEqual(['meter-reader', 'meter-reader-2', 'meter-reader-3']);
      expect(a).toEqual({
        id: 'meter-reader',
        name: 'Meter Reader',
        description: 'Reads meters',
        permissions,
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
      });
      expect(b.description).toBe('');
      // A gap is filled; an unrelated prefix does not count.
      await catalog().deleteRole('meter-reader-2', ACTOR);
      await catalog().createRole({ name: 'Meter reader extra', permissions: [] }, ACTOR);
      expect((await catalog().createRole({ name: 'Meter reader', permissions: [] }, ACTOR)).id).toBe('meter-reader-2');
      expect((await catalog().createRole({ name: 'Zähler ablesen', permissions: [] }, ACTOR)).id).toBe('zahler-ablesen');
      expect((await catalog().createRole({ name: '!!!', permissions: [] }, ACTOR)).id).toBe('role');
    });

    it('derived ids stay within SLUG_PATTERN (64 characters) however long the name, and stay unique', async () => {
      const pattern = new RegExp(SLUG_PATTERN);
      const long = `Quarterly ${'very '.repeat(12)}long role name`;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await catalog().createRole({ name: long, permissions: [] }, ACTOR)).id);
      // A name whose 64th character is a separator: the shortened stem must not end in "-".
      const edge = `${'x'.repeat(62)} yz`;
      for (let i = 0; i < 2; i++) ids.push((await catalog().createRole({ name: edge, permissions: [] }, ACTOR)).id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) {
        expect(id.length).toBeLessThanOrEqual(64);
        expect(id).toMatch(pattern);
      }
      expect(ids[0]).toBe(slugify(long));
      expect(ids[1]).toBe(`${slugify(long).slice(0, 62)}-2`);
      expect(ids[4]).toBe(`${'x'.repeat(62)}-2`);
    });

    it('an explicit id that is taken is 409', async () => {
      const id = `explicit-${unique()}`;
      await catalog().createRole({ id, name: 'Explicit', permissions: [] }, ACTOR);
      expect(await apiError(catalog().createRole({ id, name: 'Again', permissions: [] }, ACTOR))).toMatchObject({
        code: 'conflict',
        status: 409,
        message: `A role with id "${id}" exists already.`,
      });
      expect((await catalog().getRole(id)).name).toBe('Explicit');
    });

    it('an unknown permission is 400 naming each, and creates or changes nothing', async () => {
      const identifier = `https://strict-${unique()}.example.com/`;
      await catalog().createApi({ identifier, name: 'Strict', permissions: perms('read') }, ACTOR);
      const id = `strict-${unique()}`;
      const err = await apiError(
        catalog().createRole(
          {
            id,
            name: 'Strict',
            permissions: [
              { api: identifier, value: 'read' },
              { api: identifier, value: 'write' },
              { api: 'https://nowhere.example.com/', value: 'read' },
            ],
          },
          ACTOR,
        ),
      );
      expect(err).toMatchObject({
        code: 'invalid_request',
        status: 400,
        details: [
          { field: '/body/permissions/1', message: `API "${identifier}" has no permission "write"` },
          { field: '/body/permissions/2', message: 'API "https://nowhere.example.com/" has no permission "read"' },
        ],
      });
      expect(await p.runtime.store.db.selectFrom('roles').select('id').where('id', '=', id).execute()).toEqual([]);

      const role = await catalog().createRole({ id, name: 'Strict', permissions: [{ api: identifier, value: 'read' }] }, ACTOR);
      const err2 = await apiError(catalog().updateRole(id, { name: 'Renamed', permissions: [{ api: identifier, value: 'nope' }] }, ACTOR));
      expect(err2).toMatchObject({ code: 'invalid_request', status: 400, details: [{ field: '/body/permissions/0', message: `API "${identifier}" has no permission "nope"` }] });
      expect(await catalog().getRole(id)).toEqual(role);
    });

    it('a permission listed twice in a role is stored once', async () => {
      const identifier = `https://twice-role-${unique()}.example.com/`;
      await catalog().createApi({ identifier, name: 'Twice', permissions: perms('read') }, ACTOR);
      const role = await catalog().createRole(
        {
          name: `Twice ${unique()}`,
          permissions: [
            { api: identifier, value: 'read' },
            { api: identifier, value: 'read' },
          ],
        },
        ACTOR,
      );
      expect(role.permissions).toEqual([{ api: identifier, value: 'read' }]);
    });

    it('deleting a role removes it from clients', async () => {
      const identifier = `https://del-role-${unique()}.example.com/`;
      await catalog().createApi({ identifier, name: 'Del', permissions: perms('read', 'write') }, ACTOR);
      const doomed = await catalog().createRole({ name: `Doomed ${unique()}`, permissions: [{ api: identifier, value: 'write' }] }, ACTOR);
      const kept = await catalog().createRole({ name: `Kept ${unique()}`, permissions: [{ api: identifier, value: 'read' }] }, ACTOR);
      const org = await p.runtime.organizations.create({ name: `Org ${unique()}` }, ACTOR);
      const { client } = await p.runtime.clients.create(org.id, { name: 'Holder', roles: [doomed.id, kept.id] }, ACTOR);

      await catalog().deleteRole(doomed.id, ACTOR);
      expect(await apiError(catalog().getRole(doomed.id))).toMatchObject({ code: 'not_found', status: 404 });
      expect((await p.runtime.clients.get(org.id, client.client_id)).roles).toEqual([{ id: kept.id, name: kept.name }]);
      expect(await permissionsOn(identifier, [doomed.id, kept.id])).toEqual(['read']);
      expect(p.runtime.catalog.snapshot.rolePermissions.has(doomed.id)).toBe(false);
      expect(await apiError(catalog().deleteRole(doomed.id, ACTOR))).toMatchObject({ code: 'not_found', status: 404 });
    });
  });

  describe('the loaded catalog snapshot', () => {
    it('reflects each change right after the service call', async () => {
      const identifier = `https://snap-${unique()}.example.com/`;
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)).toBeUndefined();

      const api = await catalog().createApi({ identifier, name: 'Snap', permissions: perms('read', 'write') }, ACTOR);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)).toEqual({ id: api.id, identifier, name: 'Snap', accessTokenTtl: null, permissions: ['read', 'write'] });
      expect(await permissionsOn(identifier, [])).toEqual([]);

      const role = await catalog().createRole({ name: `Snap ${unique()}`, permissions: [{ api: identifier, value: 'read' }] }, ACTOR);
      expect(await permissionsOn(identifier, [role.id])).toEqual(['read']);

      await catalog().updateRole(
        role.id,
        {
          permissions: [
            { api: identifier, value: 'write' },
            { api: identifier, value: 'read' },
          ],
        },
        ACTOR,
      );
      expect(await permissionsOn(identifier, [role.id])).toEqual(['read', 'write']);

      await catalog().updateApi(api.id, { permissions: perms('write', 'admin') }, ACTOR);
      expect(await permissionsOn(identifier, [role.id])).toEqual(['write']);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)?.permissions).toEqual(['admin', 'write']);

      await catalog().updateApi(api.id, { access_token_ttl: 86_400 }, ACTOR);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)?.accessTokenTtl).toBe(86_400);
      expect(p.runtime.catalog.snapshot.maxTokenTtl(3600)).toBe(86_400);

      await catalog().deleteRole(role.id, ACTOR);
      expect(await permissionsOn(identifier, [role.id])).toEqual([]);

      await catalog().deleteApi(api.id, ACTOR);
      expect(p.runtime.catalog.snapshot.apiByIdentifier(identifier)).toBeUndefined();
      expect(p.runtime.catalog.snapshot.maxTokenTtl(3600)).toBe(3600);
    });

    it('permissionsOn unions the roles and only counts permissions on that API', async () => {
      const a = `https://union-a-${unique()}.example.com/`;
      const b = `https://union-b-${unique()}.example.com/`;
      await catalog().createApi({ identifier: a, name: 'A', permissions: perms('x', 'y', 'z') }, ACTOR);
      await catalog().createApi({ identifier: b, name: 'B', permissions: perms('x', 'y', 'z') }, ACTOR);
      const r1 = await catalog().createRole(
        {
          name: `U1 ${unique()}`,
          permissions: [
            { api: a, value: 'z' },
            { api: b, value: 'x' },
          ],
        },
        ACTOR,
      );
      const r2 = await catalog().createRole(
        {
          name: `U2 ${unique()}`,
          permissions: [
            { api: a, value: 'x' },
            { api: a, value: 'z' },
          ],
        },
        ACTOR,
      );
      expect(await permissionsOn(a, [r1.id, r2.id])).toEqual(['x', 'z']);
      expect(await permissionsOn(b, [r1.id, r2.id])).toEqual(['x']);
      expect(await permissionsOn(b, [r2.id, 'no-such-role'])).toEqual([]);
    });
  });
});
