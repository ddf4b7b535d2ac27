import { SYSTEM_ACTOR } from '../audit/actor.js';
import type { Repositories } from '../store/repositories/index.js';
import type { CatalogService } from './catalog-service.js';

/** The permissions of the built-in management API (docs/http-api.md §3). */
export const MANAGEMENT_PERMISSIONS = [
  { value: 'clients:read', description: "Read the organization's clients" },
  { value: 'clients:write', description: "Create, change, rotate and delete the organization's clients" },
  { value: 'roles:read', description: 'Read the roles the organization may assign' },
  { value: 'audit:read', description: "Read the organization's audit log" },
] as const;

export type ManagementPermission = (typeof MANAGEMENT_PERMISSIONS)[number]['value'];

export function managementAudience(issuer: string): string {
  return `${issuer}/api/v1/`;
}

/**
 * Makes sure the built-in management API exists with its identifier following ISSUER,
 * and, when it is first created, two roles an organization can give its automation:
 * `client-manager` (everything) and `client-reader` (read only).
 */
export async function ensureManagementApi(read: Repositories, catalog: CatalogService, issuer: string): Promise<void> {
  const identifier = managementAudience(issuer);
  const existing = await read.catalog.builtInApi();
  if (existing) {
    if (existing.identifier !== identifier) await catalog.updateApi(existing.id, { identifier }, SYSTEM_ACTOR);
    return;
  }
  await catalog.createApi({ identifier, name: 'Portcullis management API', permissions: [...MANAGEMENT_PERMISSIONS] }, SYSTEM_ACTOR, { builtIn: true });
  const all = MANAGEMENT_PERMISSIONS.map((p) => ({ api: identifier, value: p.value }));
  await catalog.createRole({ id: 'client-manager', name: 'Client manager', description: "Manages the organization's clients through the management API", permissions: all }, SYSTEM_ACTOR);
  await catalog.createRole(
    {
      id: 'client-reader',
      name: 'Client reader',
      description: "Reads the organization's clients and roles through the management API",
      permissions: all.filter((p) => p.value === 'clients:read' || p.value === 'roles:read'),
    },
    SYSTEM_ACTOR,
  );
}
