import type { Repositories } from '../store/repositories/index.js';

export interface CatalogApi {
  id: string;
  identifier: string;
  name: string;
  accessTokenTtl: number | null;
  /** Declared permissions, sorted. */
  permissions: string[];
}

/**
 * The whole API and role catalog, as the token path needs it. It is platform-wide and
 * small (tens of APIs and roles), so every process holds it in memory and reloads it
 * on a `catalog` change notice.
 */
export class CatalogSnapshot {
  constructor(
    readonly apis: ReadonlyMap<string, CatalogApi>,
    /** role id → api id → permission values. */
    readonly rolePermissions: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
  ) {}

  apiByIdentifier(identifier: string): CatalogApi | undefined {
    return this.apis.get(identifier);
  }

  /** The permissions that `roleIds` grant on `api`, sorted. */
  permissionsOn(api: CatalogApi, roleIds: readonly string[]): string[] {
    const granted = new Set<string>();
    for (const roleId of roleIds) {
      for (const value of this.rolePermissions.get(roleId)?.get(api.id) ?? []) granted.add(value);
    }
    return api.permissions.filter((p) => granted.has(p));
  }

  /** The longest token lifetime any API gets (for how long a retired signing key stays published). */
  maxTokenTtl(defaultTtl: number): number {
    let max = defaultTtl;
    for (const api of this.apis.values()) max = Math.max(max, api.accessTokenTtl ?? defaultTtl);
    return max;
  }
}

export async function loadCatalog(repos: Repositories): Promise<CatalogSnapshot> {
  const [apis, permissions, rolePermissions] = await repos.catalog.snapshotRows();
  const byApi = new Map<string, string[]>();
  for (const p of permissions) byApi.set(p.api_id, [...(byApi.get(p.api_id) ?? []), p.value]);
  const apiMap = new Map<string, CatalogApi>();
  for (const a of apis) {
    apiMap.set(a.identifier, {
      id: a.id,
      identifier: a.identifier,
      name: a.name,
      accessTokenTtl: a.access_token_ttl,
      permissions: byApi.get(a.id) ?? [],
    });
  }
  const roles = new Map<string, Map<string, string[]>>();
  for (const rp of rolePermissions) {
    const role = roles.get(rp.role_id) ?? new Map<string, string[]>();
    role.set(rp.api_id, [...(role.get(rp.api_id) ?? []), rp.value]);
    roles.set(rp.role_id, role);
  }
  return new CatalogSnapshot(apiMap, roles);
}
