import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/connect.js';
import { startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';

const run = promisify(execFile);
/** Where `npm run lint:openapi` (redocly.yaml, .redocly.lint-ignore.yaml) finds the document. */
const FILE = path.resolve('node_modules/.cache/portcullis/openapi.json');
const ISSUER = 'https://auth.portcullis.test';

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  responses: Record<string, unknown>;
}

/** /openapi.json: generated from the routes, linted with Redocly's recommended rules (docs/http-api.md §4). */
describe('the OpenAPI document', () => {
  let t: TestPortcullis;
  let doc: { servers: { url: string }[]; paths: Record<string, Record<string, Operation>>; components: { schemas?: Record<string, unknown> } };

  beforeAll(async () => {
    t = await startPortcullis(await openStore({ dataDir: 'memory://' }), { env: { ISSUER } });
    const answer = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(answer.statusCode, answer.body).toBe(200);
    doc = answer.json();
    fs.mkdirSync(path.dirname(FILE), { recursive: true });
    fs.writeFileSync(FILE, answer.body);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('names every operation, uniquely, with a summary and a security requirement', () => {
    const operations = Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${p}`, op })));
    expect(operations.length).toBeGreaterThan(45);
    // A route added without these shows up here by name (see src/http/openapi.ts).
    expect(operations.filter(({ op }) => !op.operationId).map((o) => o.name)).toEqual([]);
    expect(operations.filter(({ op }) => !op.summary).map((o) => o.name)).toEqual([]);
    expect(operations.filter(({ op }) => !Array.isArray(op.security)).map((o) => o.name)).toEqual([]);
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('applies the security the routes check: session, bearer token, client, or none', () => {
    expect(doc.paths['/api/v1/organizations/{org}/clients']?.get?.security).toEqual([{ session: [] }, { bearer: [] }]);
    expect(doc.paths['/api/v1/organizations']?.post?.security).toEqual([{ session: [] }]);
    expect(doc.paths['/api/v1/session']?.post?.security).toEqual([]);
    expect(doc.paths['/oauth/token']?.post?.security).toEqual([{ clientBasic: [] }, {}]);
    expect(doc.paths['/.well-known/jwks.json']?.get?.security).toEqual([]);
    expect(Object.keys(doc.paths['/api/v1/apis']?.get?.responses ?? {})).toContain('429');
    expect(Object.keys(doc.paths['/oauth/revoke']?.post?.responses ?? {})).toContain('200');
  });

  it('shares the management objects as components, and serves ISSUER as the server', () => {
    expect(doc.servers).toEqual([{ url: ISSUER, description: 'This server (ISSUER)' }]);
    expect(Object.keys(doc.components.schemas ?? {})).toEqual(expect.arrayContaining(['Error', 'Organization', 'Api', 'Role', 'Client', 'Member', 'User', 'AuditEvent']));
    const created = doc.paths['/api/v1/organizations/{org}/clients/{client_id}']?.get?.responses['200'] as { content: Record<string, { schema: unknown }> };
    expect(created.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Client' });
  });

  it('passes redocly lint with the recommended rules, without an error or a warning', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'lint:openapi']).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
    const report = JSON.parse(stdout) as { problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] };
    expect(report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
  });
});

describe('/docs', () => {
  let t: TestPortcullis;
  beforeAll(async () => {
    t = await startPortcullis(await openStore({ dataDir: 'memory://' }));
  });
  afterAll(async () => {
    await t?.close();
  });

  it("carries Portcullis's name, favicon and stylesheet, served from this origin", async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>Portcullis API</title>');
    expect(page.body).not.toContain('Swagger UI</title>');
    expect(page.body).toContain('href="./static/theme/portcullis.css"');
    const css = await t.app.inject({ method: 'GET', url: '/docs/static/theme/portcullis.css' });
    expect(css.statusCode).toBe(200);
    expect(css.body).toContain('.swagger-ui .topbar');
    const initializer = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(initializer.body).toContain(`data:image/svg+xml;base64,${Buffer.from('<svg').toString('base64').slice(0, 4)}`);
  });
});
