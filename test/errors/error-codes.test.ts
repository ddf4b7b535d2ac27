import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_ERROR_CODES } from '../../src/errors/api-error.js';
import { OAUTH_ERROR_CODES } from '../../src/errors/oauth-error.js';
import { testDatabases } from '../helpers/databases.js';
import { startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';

/** The rows `| \`code\` | status | … |` of the table under `heading` in docs/http-api.md. */
function documentedCodes(heading: string): Map<string, { status: number; text: string }> {
  const doc = fs.readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
  const start = doc.indexOf(`### ${heading}`);
  expect(start, `docs/http-api.md has a section "${heading}"`).toBeGreaterThan(0);
  const section = doc.slice(start + 4, doc.indexOf('\n#', start + 4));
  const rows = new Map<string, { status: number; text: string }>();
  for (const match of section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|(.*)$/gm)) rows.set(match[1]!, { status: Number(match[2]), text: match[3]! });
  return rows;
}

/** Every literal an `error` property can take, in the OpenAPI document's responses of the paths `include` selects. */
function openApiCodes(
  doc: { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>; components?: { schemas?: Record<string, unknown> } },
  include: (path: string) => boolean,
): Set<string> {
  const codes = new Set<string>();
  const followed = new Set<string>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    // Shared schemas (the error body among them) are components, referenced by $ref.
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith('#/components/schemas/') && !followed.has(ref)) {
      followed.add(ref);
      visit(doc.components?.schemas?.[ref.slice('#/components/schemas/'.length)]);
    }
    const error = (node as { properties?: { error?: { anyOf?: { const?: string; enum?: string[] }[]; enum?: string[] } } }).properties?.error;
    for (const option of error?.anyOf ?? []) for (const code of option.enum ?? (option.const ? [option.const] : [])) codes.add(code);
    for (const code of error?.enum ?? []) codes.add(code);
    for (const value of Object.values(node)) visit(value);
  };
  for (const [path, operations] of Object.entries(doc.paths)) if (include(path)) for (const op of Object.values(operations)) visit(op.responses);
  return codes;
}

describe('every error code the server can send', () => {
  const [pglite] = testDatabases();
  let p: TestPortcullis;
  let openapi: Parameters<typeof openApiCodes>[0];

  beforeAll(async () => {
    p = await startPortcullis(await pglite!.open());
    openapi = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  });
  afterAll(async () => {
    await p?.close();
  });

  const families = [
    { name: 'management', heading: 'Management API errors', codes: MANAGEMENT_ERROR_CODES, paths: (path: string) => path.startsWith('/api/v1/') },
    { name: 'OAuth', heading: 'OAuth errors', codes: OAUTH_ERROR_CODES, paths: (path: string) => path.startsWith('/oauth') },
  ] as const;

  for (const family of families) {
    it(`${family.name}: each is documented in docs/http-api.md with its statuses`, () => {
      const documented = documentedCodes(family.heading);
      for (const [code, statuses] of Object.entries(family.codes)) {
        const row = documented.get(code);
        expect(row, `docs/http-api.md documents ${family.name} error ${code}`).toBeDefined();
        expect(row!.status, `${code}'s status`).toBe(statuses[0]);
        for (const other of statuses.slice(1)) expect(row!.text, `${code}'s row mentions status ${other}`).toContain(String(other));
      }
    });

    it(`${family.name}: the OpenAPI document's error schemas list exactly these codes`, () => {
      expect([...openApiCodes(openapi, family.paths)].sort()).toEqual(Object.keys(family.codes).sort());
    });
  }
});
