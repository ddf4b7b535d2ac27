import fs from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import type { Actor } from '../audit/actor.js';
import { SLUG_PATTERN } from './slug.js';
import type { CatalogService } from './catalog-service.js';

const Permission = Type.Object({ value: Type.String({ minLength: 1 }), description: Type.Optional(Type.String()) }, { additionalProperties: false });
const CatalogFileSchema = Type.Object(
  {
    apis: Type.Optional(
      Type.Array(
        Type.Object(
          {
            identifier: Type.String({ minLength: 1 }),
            name: Type.String({ minLength: 1 }),
            access_token_ttl: Type.Optional(Type.Union([Type.Integer({ minimum: 60, maximum: 86400 }), Type.Null()])),
            permissions: Type.Array(Permission),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    roles: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ pattern: SLUG_PATTERN }),
            name: Type.String({ minLength: 1 }),
            description: Type.Optional(Type.String()),
            permissions: Type.Array(Type.Object({ api: Type.String({ minLength: 1 }), value: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type CatalogFile = Static<typeof CatalogFileSchema>;

/** Reads CATALOG_FILE (YAML, or JSON, which is YAML too); throws naming the file and each bad path. */
export function readCatalogFile(file: string): CatalogFile {
  let data: unknown;
  try {
    data = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`CATALOG_FILE ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problems = [...Value.Errors(CatalogFileSchema, data ?? {})].map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length > 0) throw new Error(`CATALOG_FILE ${file} is invalid:\n  - ${problems.slice(0, 20).join('\n  - ')}`);
  return (data ?? {}) as CatalogFile;
}

/**
 * Makes the catalog hold what the file declares: APIs by identifier and roles by id are
 * created or brought up to date; nothing else is touched (an API or role removed from the
 * file stays until an administrator deletes it). Running it twice changes nothing the
 * second time, so it runs at every start.
 */
export async function applyCatalogFile(catalog: CatalogService, file: CatalogFile, actor: Actor): Promise<{ created: number; updated: number }> {
  let created = 0;
  let updated = 0;
  const apis = await catalog.listApis();
  for (const api of file.apis ?? []) {
    const permissions = api.permissions.map((p) => ({ value: p.value, description: p.description ?? '' }));
    const existing = apis.find((a) => a.identifier === api.identifier);
    if (!existing) {
      await catalog.createApi({ identifier: api.identifier, name: api.name, permissions, access_token_ttl: api.access_token_ttl ?? null }, actor);
      created++;
      continue;
    }
    const same =
      existing.name === api.name &&
      existing.access_token_ttl === (api.access_token_ttl ?? null) &&
      JSON.stringify(existing.permissions) === JSON.stringify([...permissions].sort((a, b) => a.value.localeCompare(b.value)));
    if (!same) {
      await catalog.updateApi(existing.id, { name: api.name, permissions, access_token_ttl: api.access_token_ttl ?? null }, actor);
      updated++;
    }
  }
  const roles = await catalog.listRoles();
  for (const role of file.roles ?? []) {
    const existing = roles.find((r) => r.id === role.id);
    if (!existing) {
      await catalog.createRole({ id: role.id, name: role.name, description: role.description ?? '', permissions: role.permissions }, actor);
      created++;
      continue;
    }
    const wanted = [...role.permissions].sort((a, b) => a.api.localeCompare(b.api) || a.value.localeCompare(b.value));
    const same = existing.name === role.name && existing.description === (role.description ?? '') && JSON.stringify(existing.permissions) === JSON.stringify(wanted);
    if (!same) {
      await catalog.updateRole(role.id, { name: role.name, description: role.description ?? '', permissions: role.permissions }, actor);
      updated++;
    }
  }
  return { created, updated };
}
