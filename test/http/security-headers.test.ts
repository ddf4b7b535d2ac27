import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWAGGER_UI_LOGO_STYLE, sha256Source } from '../../src/http/security-headers.js';
import { openStore } from '../../src/store/connect.js';
import { createUser, signIn } from '../helpers/management.js';
import { seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';
import { tokenRequest } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

/** Every header any layer of src/http/security-headers.ts may send: an answer's set of these is compared whole. */
const SECURITY_HEADERS = [
  'content-security-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

function securityHeaders(res: { headers: Record<string, unknown> }): Record<string, unknown> {
  return Object.fromEntries(SECURITY_HEADERS.filter((name) => res.headers[name] !== undefined).map((name) => [name, res.headers[name]]));
}

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe.each([
  { scheme: 'https', issuer: 'https://auth.example.com' },
  { scheme: 'http', issuer: 'http://localhost:8080' },
])('security headers with an $scheme issuer', ({ scheme, issuer }) => {
  const https = scheme === 'https';
  const baseline = { 'x-content-type-options': 'nosniff', ...(https ? { 'strict-transport-security': 'max-age=31536000' } : {}) };
  const upgrade = https ? ';upgrade-insecure-requests' : '';
  const documentHeaders = (csp: string) => ({
    ...baseline,
    'content-security-policy': csp + upgrade,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  });
  const WEB_APP_CSP =
    "default-src 'self';script-src 'self';script-src-attr 'none';style-src 'self';img-src 'self' data:;connect-src 'self';font-src 'self';object-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none'";
  const DOCS_CSP =
    "default-src 'self';script-src 'self';script-src-attr 'none';style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';img-src 'self' data:;connect-src 'self';font-src 'self';object-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none'";

  let p: TestPortcullis;
  let webRoot: string;
  beforeAll(async () => {
    webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-headers-web-'));
    fs.mkdirSync(path.join(webRoot, 'assets'));
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><div id="root"></div>');
    fs.writeFileSync(path.join(webRoot, 'assets', 'index-abc123.js'), 'console.log(1)');
    fs.writeFileSync(path.join(webRoot, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    p = await startPortcullis(await openStore({ dataDir: 'memory://' }), { env: { ISSUER: issuer }, webRoot });
  });
  afterAll(async () => {
    await p?.close();
    fs.rmSync(webRoot, { recursive: true, force: true });
  });

  it('a token: nosniff and, over https, HSTS; nothing meant for documents', async () => {
    const c = await seedClient(p.runtime);
    const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(res.statusCode, res.body).toBe(200);
    expect(securityHeaders(res)).toEqual(baseline);
  });

  it('an OAuth error: the same', async () => {
    const c = await seedClient(p.runtime);
    const res = await tokenRequest(p.app, { clientId: c.clientId, secret: tampered(c.secret) }, { audience: c.apiIdentifier });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: 'invalid_client' });
    expect(securityHeaders(res)).toEqual(baseline);
  });

  it('a management API answer and its error: the same', async () => {
    const email = `headers-${scheme}@example.com`;
    await createUser(p.runtime, email);
    const me = await p.app.inject({ url: '/api/v1/me', headers: (await signIn(p.app, email)).headers('GET') });
    expect(me.statusCode, me.body).toBe(200);
    expect(securityHeaders(me)).toEqual(baseline);
    const anonymous = await p.app.inject({ url: '/api/v1/me' });
    expect(anonymous.statusCode).toBe(401);
    expect(securityHeaders(anonymous)).toEqual(baseline);
  });

  it.each([
    ['GET', '/api/v1/nope'],
    ['POST', '/nope'],
    ['GET', '/docs/nope'],
  ] as const)('a 404 (%s %s): the same, even where the web app handed the path back', async (method, url) => {
    const res = await p.app.inject({ method, url, headers: HTML });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(securityHeaders(res)).toEqual(baseline);
  });

  it('a body refused before any handler (a media type without parser, too large): the same', async () => {
    const unsupported = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(unsupported.json()).toMatchObject({ error: 'invalid_request' });
    expect(securityHeaders(unsupported)).toEqual(baseline);
    const large = await p.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a='.padEnd(p.config.bodyLimit + 10, 'x') });
    expect(large.statusCode).toBe(413);
    expect(securityHeaders(large)).toEqual(baseline);
  });

  it('/openapi.json, discovery, the JWKS, health and metrics: the same', async () => {
    for (const url of ['/openapi.json', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/healthz', '/metrics']) {
      const res = await p.app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(securityHeaders(res), url).toEqual(baseline);
    }
  });

  it("the web app's index.html: the web app's policy, no framing, no referrer", async () => {
    for (const url of ['/', '/setup?token=abc']) {
      const res = await p.app.inject({ url, headers: HTML });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(securityHeaders(res), url).toEqual(documentHeaders(WEB_APP_CSP));
    }
  });

  it("the web app's static files: the same headers as its page (an SVG opened alone is a document)", async () => {
    const res = await p.app.inject({ url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(securityHeaders(res)).toEqual(documentHeaders(WEB_APP_CSP));
    const svg = await p.app.inject({ url: '/favicon.svg' });
    expect(svg.statusCode).toBe(200);
    expect(securityHeaders(svg)).toEqual(documentHeaders(WEB_APP_CSP));
  });

  it("/docs, Swagger UI's files and its /docs/json and /docs/yaml: the UI's own policy", async () => {
    for (const url of ['/docs', '/docs/', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/docs/json', '/docs/yaml']) {
      const res = await p.app.inject({ url, headers: HTML });
      expect(res.statusCode, url).toBe(200);
      expect(securityHeaders(res), url).toEqual(documentHeaders(DOCS_CSP));
    }
  });

  it('never sends a header twice', async () => {
    for (const url of ['/', '/docs', '/openapi.json', '/api/v1/nope']) {
      const res = await p.app.inject({ url, headers: HTML });
      for (const [name, value] of Object.entries(securityHeaders(res))) expect(typeof value, `${url} ${name}`).toBe('string');
    }
  });
});

describe('the missing-build page', () => {
  let p: TestPortcullis;
  let empty: string;
  beforeAll(async () => {
    empty = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-headers-empty-'));
    p = await startPortcullis(await openStore({ dataDir: 'memory://' }), { webRoot: empty });
  });
  afterAll(async () => {
    await p?.close();
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('allows its one style element by hash, and no other inline style', async () => {
    const res = await p.app.inject({ url: '/', headers: HTML });
    expect(res.statusCode).toBe(503);
    const style = /<style>([^<]*)<\/style>/.exec(res.body)?.[1] ?? '';
    expect(style).not.toBe('');
    expect(res.headers['content-security-policy']).toContain(`style-src 'self' ${sha256Source(style)};`);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe("Swagger UI's inline style", () => {
  it('is still the one the docs policy allows by hash: a new @fastify/swagger-ui with another logo fails here first', () => {
    const preset = fs.readFileSync(createRequire(import.meta.url).resolve('@fastify/swagger-ui/static/swagger-ui-standalone-preset.js'), 'utf8');
    expect(preset).toContain(`createElement("style",null,${JSON.stringify(SWAGGER_UI_LOGO_STYLE)})`);
    expect(sha256Source(SWAGGER_UI_LOGO_STYLE)).toBe("'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='");
  });
});
