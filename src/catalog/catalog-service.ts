import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import { diff } from '../audit/diff.js';
import { Conflict, InvalidRequest, NotFound, type ErrorDetail } from '../errors/api-error.js';
import { newId } from '../ids.js';
import { notifyChange, type Change } from '../store/changes.js';
import type { Database } from '../store/schema.js';
import { slugify } from './slug.js';

export interface Permission {
  value: string;
  description: string;
}

export interface Api {
  id: string;
  identifier: string;
  name: string;
  permissions: Permission[];
  access_token_ttl: number | null;
  built_in: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ApiInput {
  identifier: string;
  name: string;
  permissions: Permission[];
  access_token_ttl?: number | null | undefined;
}

export interface RolePermission {
  /** The API's identifier (its `aud`). */
  api: string;
  value: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: RolePermission[];
  created_at: Date;
  updated_at: Date;
}

export interface RoleInput {
  id?: string | undefined;
  name: string;
  description?: string | undefined;
  permissions: RolePermission[];
}

type Db = Kysely<Database>;

/** APIs (resource servers) and roles, platform-wide. Every change notifies the token path's catalog cache. */
export class CatalogService {
  constructor(
    private readonly db: Db,
    private readonly onChange: (change: Change) => Promise<void> | void = () => {},
  ) {}

  async listApis(): Promise<Api[]> {
    const rows = await this.db.selectFrom('apis').selectAll().orderBy('identifier').execute();
    return Promise.all(rows.map((r) => this.withPermissions(this.db, r)));
  }

  async getApi(id: string): Promise<Api> {
    return this.readApi(this.db, id);
  }

  async createApi(input: ApiInput, actor: Actor, opts: { builtIn?: boolean } = {}): Promise<Api> {
    assertUniquePermissions(input.permissions);
    return this.write(async (trx) => {
      const taken = await trx.selectFrom('apis').select('id').where('identifier', '=', input.identifier).executeTakeFirst();
      if (taken) throw new Conflict(`An API with identifier "${input.identifier}" exists already.`);
      const id = newId('api');
      await trx
        .insertInto('apis')
        .values({ id, identifier: input.identifier, name: input.name, access_token_ttl: input.access_token_ttl ?? null, built_in: opts.builtIn ?? false })
        .execute();
      await insertPermissions(trx, id, input.permissions);
      await recordAudit(trx, actor, { orgId: null, action: 'api.created', target: { type: 'api', id }, details: { identifier: input.identifier, name: input.name } });
      return this.readApi(trx, id);
    });
  }

  /** Changes name, TTL and/or the permission list (removing a permission takes it out of every role). */
  async updateApi(id: string, patch: Partial<ApiInput>, actor: Actor): Promise<Api> {
    if (patch.permissions) assertUniquePermissions(patch.permissions);
    return this.write(async (trx) => {
      const before = await this.readApi(trx, id);
      if (before.built_in && actor.type !== 'system') throw new Conflict('The built-in management API cannot be changed.');
      if (patch.identifier !== undefined && patch.identifier !== before.identifier) {
        const taken = await trx.selectFrom('apis').select('id').where('identifier', '=', patch.identifier).executeTakeFirst();
        if (taken) throw new Conflict(`An API with identifier "${patch.identifier}" exists already.`);
      }
      await trx
        .updateTable('apis')
        .set({
          ...(patch.identifier !== undefined ? { identifier: patch.identifier } : {}),
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.access_token_ttl !== undefined ? { access_token_ttl: patch.access_token_ttl } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .execute();
      if (patch.permissions) {
        const keep = patch.permissions.map((p) => p.value);
        let removal = trx.deleteFrom('api_permissions').where('api_id', '=', id);
        if (keep.length > 0) removal = removal.where('value', 'not in', keep);
        await removal.execute();
        for (const p of patch.permissions) {
          await trx
            .insertInto('api_permissions')
            .values({ api_id: id, value: p.value, description: p.description })
            .onConflict((oc) => oc.columns(['api_id', 'value']).doUpdateSet({ description: p.description }))
            .execute();
        }
      }
      const after = await this.readApi(trx, id);
      await recordAudit(trx, actor, { orgId: null, action: 'api.updated', target: { type: 'api', id }, details: diff(before, after, ['identifier', 'name', 'access_token_ttl', 'permissions']) });
      return after;
    });
  }

  async deleteApi(id: string, actor: Actor): Promise<void> {
    await this.write(async (trx) => {
      const api = await this.readApi(trx, id);
      if (api.built_in) throw new Conflict('The built-in management API cannot be deleted.');
      await trx.deleteFrom('role_permissions').where('api_id', '=', id).execute();
      await trx.deleteFrom('apis').where('id', '=', id).execute();
      await recordAudit(trx, actor, { orgId: null, action: 'api.deleted', target: { type: 'api', id }, details: { identifier: api.identifier } });
    });
  }

  async listRoles(): Promise<Role[]> {
    const rows = await this.db.selectFrom('roles').selectAll().orderBy('name').execute();
    return Promise.all(rows.map((r) => this.withRolePermissions(this.db, r)));
  }

  async getRole(id: string): Promise<Role> {
    return this.readRole(this.db, id);
  }

  async createRole(input: RoleInput, actor: Actor): Promise<Role> {
    return this.write(async (trx) => {
      const id = input.id ?? (await freeSlug(trx, slugify(input.name)));
      const taken = await trx.selectFrom('roles').select('id').where('id', '=', id).executeTakeFirst();
      if (taken) throw new Conflict(`A role with id "${id}" exists already.`);
      await trx.insertInto('roles').values({ id, name: input.name, description: input.description ?? '' }).execute();
      await insertRolePermissions(trx, id, input.permissions);
      await recordAudit(trx, actor, { orgId: null, action: 'role.created', target: { type: 'role', id }, details: { name: input.name, permissions: input.permissions } });
      return this.readRole(trx, id);
    });
  }

  async updateRole(id: string, patch: Partial<Omit<RoleInput, 'id'>>, actor: Actor): Promise<Role> {
    return this.write(async (trx) => {
      const before = await this.readRole(trx, id);
      await trx
        .updateTable('roles')
        .set({
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .execute();
      if (patch.permissions) {
        await trx.deleteFrom('role_permissions').where('role_id', '=', id).execute();
        await insertRolePermissions(trx, id, patch.permissions);
      }
      const after = await this.readRole(trx, id);
      await recordAudit(trx, actor, { orgId: null, action: 'role.updated', target: { type: 'role', id }, details: diff(before, after, ['name', 'description', 'permissions']) });
      return after;
    });
  }

  /** Deletes the role; it leaves every client that held it, so those clients' cached grants are dropped too. */
  async deleteRole(id: string, actor: Actor): Promise<void> {
    const holders = await this.write(async (trx) => {
      await this.readRole(trx, id);
      const holders = (await trx.deleteFrom('client_roles').where('role_id', '=', id).returning('client_id').execute()).map((r) => r.client_id);
      await trx.deleteFrom('roles').where('id', '=', id).execute();
      await recordAudit(trx, actor, { orgId: null, action: 'role.deleted', target: { type: 'role', id } });
      for (const clientId of holders) await notifyChange(trx, { kind: 'client', clientId });
      return holders;
    });
    for (const clientId of holders) await this.onChange({ kind: 'client', clientId });
  }

  /** A catalog change: one transaction with its change notice, then this process's catalog reloads. */
  private async write<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.db.transaction().execute(async (trx) => {
      const value = await work(trx);
      await notifyChange(trx, { kind: 'catalog' });
      return value;
    });
    await this.onChange({ kind: 'catalog' });
    return result;
  }

  private async readApi(db: Db, id: string): Promise<Api> {
    const row = await db.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFound('API');
    return this.withPermissions(db, row);
  }

  private async withPermissions(db: Db, row: Omit<Api, 'permissions'>): Promise<Api> {
    const permissions = await db.selectFrom('api_permissions').select(['value', 'description']).where('api_id', '=', row.id).orderBy('value').execute();
    return { ...row, permissions };
  }

  private async readRole(db: Db, id: string): Promise<Role> {
    const row = await db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFound('Role');
    return this.withRolePermissions(db, row);
  }

  private async withRolePermissions(db: Db, row: Omit<Role, 'permissions'>): Promise<Role> {
    const permissions = await db
      .selectFrom('role_permissions')
      .innerJoin('apis', 'apis.id', 'role_permissions.api_id')
      .select(['apis.identifier as api', 'role_permissions.value'])
      .where('role_permissions.role_id', '=', row.id)
      .orderBy('apis.identifier')
      .orderBy('role_permissions.value')
      .execute();
    return { ...row, permissions };
  }
}

function assertUniquePermissions(permissions: Permission[]): void {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  permissions.forEach((p, i) => {
    if (seen.has(p.value)) details.push({ field: `/body/permissions/${i}/value`, message: `"${p.value}" is listed twice` });
    seen.add(p.value);
  });
  if (details.length > 0) throw new InvalidRequest('Permission values must be unique.', details);
}

async function insertPermissions(trx: Transaction<Database>, apiId: string, permissions: Permission[]): Promise<void> {
  if (permissions.length === 0) return;
  await trx
    .insertInto('api_permissions')
    .values(permissions.map((p) => ({ api_id: apiId, value: p.value, description: p.description })))
    .execute();
}

/** Resolves `(api identifier, value)` pairs to rows, naming every pair that does not exist. */
async function insertRolePermissions(trx: Transaction<Database>, roleId: string, permissions: RolePermission[]): Promise<void> {
  if (permissions.length === 0) return;
  const identifiers = [...new Set(permissions.map((p) => p.api))];
  const known = await trx
    .selectFrom('api_permissions')
    .innerJoin('apis', 'apis.id', 'api_permissions.api_id')
    .select(['apis.id as api_id', 'apis.identifier', 'api_permissions.value'])
    .where('apis.identifier', 'in', identifiers)
    .execute();
  const index = new Map(known.map((k) => [`${k.identifier}\u0000${k.value}`, k.api_id]));
  const rows = new Map<string, { role_id: string; api_id: string; value: string }>();
  const details: ErrorDetail[] = [];
  permissions.forEach((p, i) => {
    const apiId = index.get(`${p.api}\u0000${p.value}`);
    if (!apiId) details.push({ field: `/body/permissions/${i}`, message: `API "${p.api}" has no permission "${p.value}"` });
    else rows.set(`${apiId}\u0000${p.value}`, { role_id: roleId, api_id: apiId, value: p.value });
  });
  if (details.length > 0) throw new InvalidRequest('Unknown permissions.', details);
  await trx.insertInto('role_permissions').values([...rows.values()]).execute();
}

/** `base`, else `base-2`, `base-3`…, each shortened to fit SLUG_PATTERN's 64 characters (the HTTP layer rejects longer role ids). */
async function freeSlug(db: Db, base: string): Promise<string> {
  const candidate = (n: number) => (n === 1 ? base : `${base.slice(0, 64 - `-${n}`.length).replace(/-+$/, '')}-${n}`);
  // Every candidate up to `-99999999` starts with this (slugs have no LIKE wildcards).
  const prefix = base.slice(0, 54);
  const taken = new Set((await db.selectFrom('roles').select('id').where('id', 'like', `${prefix}%`).execute()).map((r) => r.id));
  for (let n = 1; ; n++) if (!taken.has(candidate(n))) return candidate(n);
}
