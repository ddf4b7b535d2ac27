import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Api, Permission, Role } from '../../wire/management.js';
import type { Executor } from '../executor.js';

/** A role's permission resolved to the API's row id. */
export interface RolePermissionRow {
  role_id: string;
  api_id: string;
  value: string;
}

/**
 * The platform-wide catalog: APIs with their permissions, and roles with theirs. Not
 * organization data (an organization assigns roles; it does not own them). Lists are
 * one statement each, permissions aggregated in it.
 */
export class CatalogRepository {
  constructor(private readonly db: Executor) {}

  /** By identifier (a scan of a small table, permissions by api_permissions_pk). */
  async listApis(): Promise<Api[]> {
    return this.selectApis().orderBy('identifier').execute();
  }

  async findApi(id: string): Promise<Api | undefined> {
    return this.selectApis().where('id', '=', id).executeTakeFirst();
  }

  /** The id of the API with this identifier (its unique index). */
  async apiIdByIdentifier(identifier: string): Promise<string | undefined> {
    return (await this.db.selectFrom('apis').select('id').where('identifier', '=', identifier).executeTakeFirst())?.id;
  }

  /** The built-in management API, if it exists yet (a scan of a small table). */
  async builtInApi(): Promise<{ id: string; identifier: string } | undefined> {
    return this.db.selectFrom('apis').select(['id', 'identifier']).where('built_in', '=', true).executeTakeFirst();
  }

  async insertApi(api: { id: string; identifier: string; name: string; accessTokenTtl: number | null; builtIn: boolean; now: Date }, permissions: readonly Permission[]): Promise<void> {
    await this.db
      .insertInto('apis')
      .values({ id: api.id, identifier: api.identifier, name: api.name, access_token_ttl: api.accessTokenTtl, built_in: api.builtIn, created_at: api.now, updated_at: api.now })
      .execute();
    if (permissions.length > 0)
      await this.db
        .insertInto('api_permissions')
        .values(permissions.map((p) => ({ api_id: api.id, value: p.value, description: p.description })))
        .execute();
  }

  async updateApi(id: string, patch: { identifier?: string | undefined; name?: string | undefined; accessTokenTtl?: number | null | undefined; updatedAt: Date }): Promise<void> {
    await this.db
      .updateTable('apis')
      .set({
        ...(patch.identifier !== undefined ? { identifier: patch.identifier } : {}),
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.accessTokenTtl !== undefined ? { access_token_ttl: patch.accessTokenTtl } : {}),
        updated_at: patch.updatedAt,
      })
      .where('id', '=', id)
      .execute();
  }

  /** Makes the API's permissions exactly `permissions`; a removed one leaves every role holding it (its foreign key cascades). */
  async replaceApiPermissions(id: string, permissions: readonly Permission[]): Promise<void> {
    const keep = permissions.map((p) => p.value);
    let removal = this.db.deleteFrom('api_permissions').where('api_id', '=', id);
    if (keep.length > 0) removal = removal.where('value', 'not in', keep);
    await removal.execute();
    if (permissions.length === 0) return;
    await this.db
      .insertInto('api_permissions')
      .values(permissions.map((p) => ({ api_id: id, value: p.value, description: p.description })))
      .onConflict((oc) => oc.columns(['api_id', 'value']).doUpdateSet((eb) => ({ description: eb.ref('excluded.description') })))
      .execute();
  }

  async deleteApi(id: string): Promise<void> {
    await this.db.deleteFrom('role_permissions').where('api_id', '=', id).execute();
    await this.db.deleteFrom('apis').where('id', '=', id).execute();
  }

  /** By name (a scan of a small table, permissions by role_permissions_pk). */
  async listRoles(): Promise<Role[]> {
    return this.selectRoles().orderBy('name').execute();
  }

  async findRole(id: string): Promise<Role | undefined> {
    return this.selectRoles().where('id', '=', id).executeTakeFirst();
  }

  /** Which of `ids` are roles (primary key). */
  async existingRoleIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set((await this.db.selectFrom('roles').select('id').where('id', 'in', ids).execute()).map((r) => r.id));
  }

  /** Role ids starting with `prefix` (primary key range; slugs have no LIKE wildcards). */
  async roleIdsStartingWith(prefix: string): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('roles').select('id').where('id', 'like', `${prefix}%`).execute()).map((r) => r.id));
  }

  async insertRole(role: { id: string; name: string; description: string; now: Date }): Promise<void> {
    await this.db.insertInto('roles').values({ id: role.id, name: role.name, description: role.description, created_at: role.now, updated_at: role.now }).execute();
  }

  async updateRole(id: string, patch: { name?: string | undefined; description?: string | undefined; updatedAt: Date }): Promise<void> {
    await this.db
      .updateTable('roles')
      .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}), updated_at: patch.updatedAt })
      .where('id', '=', id)
      .execute();
  }

  /** `(api identifier, value)` pairs that exist, with the API's row id (apis' unique identifier, api_permissions_pk). */
  async knownPermissions(identifiers: readonly string[]): Promise<{ api_id: string; identifier: string; value: string }[]> {
    if (identifiers.length === 0) return [];
    return this.db
      .selectFrom('api_permissions')
      .innerJoin('apis', 'apis.id', 'api_permissions.api_id')
      .select(['apis.id as api_id', 'apis.identifier', 'api_permissions.value'])
      .where('apis.identifier', 'in', identifiers)
      .execute();
  }

  async replaceRolePermissions(roleId: string, rows: readonly RolePermissionRow[]): Promise<void> {
    await this.db.deleteFrom('role_permissions').where('role_id', '=', roleId).execute();
    if (rows.length > 0)
      await this.db
        .insertInto('role_permissions')
        .values([...rows])
        .execute();
  }

  /** Deletes the role and returns the clients that held it (client_roles_role_idx). */
  async deleteRole(id: string): Promise<string[]> {
    const holders = (await this.db.deleteFrom('client_roles').where('role_id', '=', id).returning('client_id').execute()).map((r) => r.client_id);
    await this.db.deleteFrom('roles').where('id', '=', id).execute();
    return holders;
  }

  /** Everything the token path's snapshot needs, in three scans of small tables. */
  async snapshotRows() {
    return Promise.all([
      this.db.selectFrom('apis').select(['id', 'identifier', 'name', 'access_token_ttl']).execute(),
      this.db.selectFrom('api_permissions').select(['api_id', 'value']).orderBy('api_id').orderBy('value').execute(),
      this.db.selectFrom('role_permissions').select(['role_id', 'api_id', 'value']).execute(),
    ]);
  }

  private selectApis() {
    return this.db
      .selectFrom('apis')
      .select(['id', 'identifier', 'name', 'access_token_ttl', 'built_in', 'created_at', 'updated_at'])
      .select((eb) =>
        jsonArrayFrom(
          eb.selectFrom('api_permissions').select(['api_permissions.value', 'api_permissions.description']).whereRef('api_permissions.api_id', '=', 'apis.id').orderBy('api_permissions.value'),
        ).as('permissions'),
      );
  }

  private selectRoles() {
    return this.db
      .selectFrom('roles')
      .select(['id', 'name', 'description', 'created_at', 'updated_at'])
      .select((eb) =>
        jsonArrayFrom(
          eb
            .selectFrom('role_permissions')
            .innerJoin('apis', 'apis.id', 'role_permissions.api_id')
            .select(['apis.identifier as api', 'role_permissions.value'])
            .whereRef('role_permissions.role_id', '=', 'roles.id')
            .orderBy('apis.identifier')
            .orderBy('role_permissions.value'),
        ).as('permissions'),
      );
  }
}
