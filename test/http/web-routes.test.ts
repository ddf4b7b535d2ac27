import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webRoutes } from '../../src/http/web-routes.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

/** A Fastify app with the web routes on `root` and, like the real server, API routes and a JSON 404. */
async function appOn(root: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url}.` }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/v1/me', async () => ({ id: 'u' }));
  await app.register(async (scope) => webRoutes(scope, { issuer: 'http://localhost:8080', root }));
  await app.ready();
  return app;
}

describe('the admin web app at / (src/http/web-routes.ts)', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-web-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg/>');
    fs.writeFileSync(path.join(dir, '..', `${path.basename(dir)}-outside.txt`), 'content outside the web root');
    app = await appOn(dir);
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}-outside.txt`, { force: true });
  });

  it('serves index.html at / with no-cache and headers that keep one-time tokens and frames out', async () => {
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('id="root"');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it.each(['/setup?token=abc', '/invite?token=abc', '/signin', '/organizations/org_1/api', '/admin/users'])('answers a browser asking for %s with the app', async (url) => {
    const res = await app.inject({ url, headers: HTML });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('id="root"');
  });

  it('serves built files, hashed assets as immutable', async () => {
    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject({ url: '/favicon.svg' })).statusCode).toBe(200);
  });

  it.each(['/api/v1/nope', '/oauth/token', '/oauth2/token', '/.well-known/nope', '/docs/nope', '/openapi.json', '/readyz', '/metrics'])(
    'leaves %s to the API: its own 404, never the app',
    async (url) => {
      const res = await app.inject({ url, headers: HTML });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found' });
    },
  );

  it('does not shadow API routes', async () => {
    expect((await app.inject({ url: '/healthz', headers: HTML })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ url: '/api/v1/me', headers: HTML })).json()).toEqual({ id: 'u' });
  });

  it('answers 404, not the app, for missing files and for clients that do not want HTML', async () => {
    expect((await app.inject({ url: '/assets/missing.js', headers: HTML })).statusCode).toBe(404);
    expect((await app.inject({ url: '/organizations/org_1/api', headers: { accept: 'application/json' } })).statusCode).toBe(404);
  });

  it('never serves a file outside its folder', async () => {
    const name = `${path.basename(dir)}-outside.txt`;
    for (const url of [`/../${name}`, `/..%2f${name}`, `/%2e%2e/${name}`, `/assets/..%2f..%2f${name}`, `/assets/%2e%2e/%2e%2e/${name}`]) {
      const res = await app.inject({ url, headers: HTML });
      expect(res.body, url).not.toContain('content outside the web root');
    }
  });

  it('says to run npm run build when the app is not built, instead of failing', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-web-empty-'));
    const bare = await appOn(empty);
    try {
      const res = await bare.inject({ url: '/', headers: HTML });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('npm run build');
      expect((await bare.inject({ url: '/setup?token=x', headers: HTML })).body).toContain('npm run build');
      expect((await bare.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
