import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import type { Clock } from '../clock.js';
import { ConflictError, InvalidInputError, NotFoundError, type InputIssue } from '../errors/domain-errors.js';
import { newId } from '../ids.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Data, Tx } from '../store/repositories/index.js';
import type { RolePermissionRow } from '../store/repositories/catalog.js';
import type { Api, ApiPatch, NewApi, NewRole, Permission, Role, RolePatch, RolePermission } from '../wire/management.js';
import { slugify } from './slug.js';

/** APIs (resource servers) and roles, platform-wide. Every change is published to the token path's catalog snapshot. */
export class CatalogService {
  constructor(
    private readonly data: Data,
    private readonly feed: ChangeFeed,
    private readonly clock: Clock,
  ) {}

  async listApis(): Promise<Api[]> {
    return this.data.read.catalog.listApis();
  }

  async getApi(id: string): Promise<Api> {
    return apiFound(await this.data.read.catalog.findApi(id));
  }

  async createApi(input: NewApi, actor: Actor, opts: { builtIn?: boolean } = {}): Promise<Api> {
    assertUniquePermissions(input.permissions);
    return this.write(async (tx) => {
      if (await tx.catalog.apiIdByIdentifier(input.identifier)) throw new ConflictError(`An API with identifier "${input.identifier}" exists already.`);
      const id = newId('api');
      await tx.catalog.insertApi(
        { id, identifier: input.identifier, name: input.name, accessTokenTtl: input.access_token_ttl ?? null, builtIn: opts.builtIn ?? false, now: this.clock.now() },
        input.permissions,
      );
      await tx.audit.record(null, actor, { action: 'api.created', target: { type: 'api', id }, details: { identifier: input.identifier, name: input.name } });
      return apiFound(await tx.catalog.findApi(id));
    });
  }

  /** Changes identifier, name, TTL and/or the permission list (removing a permission takes it out of every role). */
  async updateApi(id: string, patch: ApiPatch & { identifier?: string }, actor: Actor): Promise<Api> {
    if (patch.permissions) assertUniquePermissions(patch.permissions);
    return this.write(async (tx) => {
      const before = apiFound(await tx.catalog.findApi(id));
      if (before.built_in && actor.type !== 'system') throw new ConflictError('The built-in management API cannot be changed.');
      if (patch.identifier !== undefined && patch.identifier !== before.identifier && (await tx.catalog.apiIdByIdentifier(patch.identifier))) {
        throw new ConflictError(`An API with identifier "${patch.identifier}" exists already.`);
      }
      await tx.catalog.updateApi(id, { identifier: patch.identifier, name: patch.name, accessTokenTtl: patch.access_token_ttl, updatedAt: this.clock.now() });
      if (patch.permissions) await tx.catalog.replaceApiPermissions(id, patch.permissions);
      const after = apiFound(await tx.catalog.findApi(id));
      await tx.audit.record(null, actor, { action: 'api.updated', target: { type: 'api', id }, details: diff(before, after, ['identifier', 'name', 'access_token_ttl', 'permissions']) });
      return after;
    });
  }

  async deleteApi(id: string, actor: Actor): Promise<void> {
    await this.write(async (tx) => {
      const api = apiFound(await tx.catalog.findApi(id));
      if (api.built_in) throw new ConflictError('The built-in management API cannot be deleted.');
      await tx.catalog.deleteApi(id);
      await tx.audit.record(null, actor, { action: 'api.deleted', target: { type: 'api', id }, details: { identifier: api.identifier } });
    });
  }

  async listRoles(): Promise<Role[]> {
    return this.data.read.catalog.listRoles();
  }

  async getRole(id: string): Promise<Role> {
    return roleFound(await this.data.read.catalog.findRole(id));
  }

  async createRole(input: NewRole, actor: Actor): Promise<Role> {
    return this.write(async (tx) => {
      const id = input.id ?? (await freeSlug(tx, slugify(input.name)));
      if ((await tx.catalog.existingRoleIds([id])).size > 0) throw new ConflictError(`A role with id "${id}" exists already.`);
      await tx.catalog.insertRole({ id, name: input.name, description: input.description ?? '', now: this.clock.now() });
      await tx.catalog.replaceRolePermissions(id, await resolvePermissions(tx, id, input.permissions));
      await tx.audit.record(null, actor, { action: 'role.created', target: { type: 'role', id }, details: { name: input.name, permissions: input.permissions } });
      return roleFound(await tx.catalog.findRole(id));
    });
  }

  async updateRole(id: string, patch: RolePatch, actor: Actor): Promise<Role> {
    return this.write(async (tx) => {
      const before = roleFound(await tx.catalog.findRole(id));
      await tx.catalog.updateRole(id, { name: patch.name, description: patch.description, updatedAt: this.clock.now() });
      if (patch.permissions) await tx.catalog.replaceRolePermissions(id, await resolvePermissions(tx, id, patch.permissions));
      const after = roleFound(await tx.catalog.findRole(id));
      await tx.audit.record(null, actor, { action: 'role.updated', target: { type: 'role', id }, details: diff(before, after, ['name', 'description', 'permissions']) });
      return after;
    });
  }

  /** Deletes the role; it leaves every client that held it, so those clients' snapshots are dropped too. */
  async deleteRole(id: string, actor: Actor): Promise<void> {
    await this.write(async (tx) => {
      roleFound(await tx.catalog.findRole(id));
      const holders = await tx.catalog.deleteRole(id);
      await tx.audit.record(null, actor, { action: 'role.deleted', target: { type: 'role', id } });
      for (const clientId of holders) await this.feed.publish(tx, { kind: 'client', clientId });
    });
  }

  /** A catalog change: one transaction that publishes it. */
  private async write<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.data.transaction(async (tx) => {
      const value = await work(tx);
      await this.feed.publish(tx, { kind: 'catalog' });
      return value;
    });
  }
}

function apiFound(api: Api | undefined): Api {
  if (!api) throw new NotFoundError('API');
  return api;
}

function roleFound(role: Role | undefined): Role {
  if (!role) throw new NotFoundError('Role');
  return role;
}

function assertUniquePermissions(permissions: readonly Permission[]): void {
  const seen = new Set<string>();
  const issues: InputIssue[] = [];
  permissions.forEach((p, i) => {
    if (seen.has(p.value)) issues.push({ path: ['permissions', i, 'value'], message: `"${p.value}" is listed twice` });
    seen.add(p.value);
  });
  if (issues.length > 0) throw new InvalidInputError('Permission values must be unique.', issues);
}

/** Resolves `(api identifier, value)` pairs to rows, naming every pair that does not exist. */
async function resolvePermissions(tx: Tx, roleId: string, permissions: readonly RolePermission[]): Promise<RolePermissionRow[]> {
  const known = await tx.catalog.knownPermissions([...new Set(permissions.map((p) => p.api))]);
  const index = new Map(known.map((k) => [`${k.identifier}\u0000${k.value}`, k.api_id]));
  const rows = new Map<string, RolePermissionRow>();
  const issues: InputIssue[] = [];
  permissions.forEach((p, i) => {
    const apiId = index.get(`${p.api}\u0000${p.value}`);
    if (!apiId) issues.push({ path: ['permissions', i], message: `API "${p.api}" has no permission "${p.value}"` });
    else rows.set(`${apiId}\u0000${p.value}`, { role_id: roleId, api_id: apiId, value: p.value });
  });
  if (issues.length > 0) throw new InvalidInputError('Unknown permissions.', issues);
  return [...rows.values()];
}

/** `base`, else `base-2`, `base-3`…, each shortened to fit SLUG_PATTERN's 64 characters (the HTTP layer rejects longer role ids). */
async function freeSlug(tx: Tx, base: string): Promise<string> {
  const candidate = (n: number) => (n === 1 ? base : `${base.slice(0, 64 - `-${n}`.length).replace(/-+$/, '')}-${n}`);
  // Every candidate up to `-99999999` starts with this.
  const taken = await tx.catalog.roleIdsStartingWith(base.slice(0, 54));
  for (let n = 1; ; n++) if (!taken.has(candidate(n))) return candidate(n);
}
