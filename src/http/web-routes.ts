import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where `npm run build:web` puts the admin app: `dist/web`. This file sits two folders
 * below the project root both as `src/http/web-routes.ts` and as `dist/http/web-routes.js`.
 */
export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Paths the app never answers, so that their 404s stay the API's own JSON. */
const NOT_THE_APP = ['/api', '/oauth', '/oauth2', '/.well-known', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics'];

/**
 * Headers for the app's HTML. The setup and invitation pages carry one-time tokens in their
 * URL: no referrer may leak them. The console must not be framed (clickjacking).
 */
const HTML_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const MISSING_BUILD = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The admin web app is not built</h1>
<p>Portcullis is running, but <code>dist/web</code> holds no web app. Run <code>npm run build</code>
(or <code>npm start</code>, which builds first) and reload this page.</p>
<p>The OAuth endpoints and the management API under <code>/api/v1</code> work without it.</p>
</body></html>
`;

function isReserved(pathname: string): boolean {
  return NOT_THE_APP.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

function acceptsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') || accept.includes('application/xhtml+xml');
}

/**
 * The admin web app (docs/http-api.md §4: `GET /`): its built files, and `index.html` for any other
 * page a browser asks for (`/setup?token=…`, `/organizations/…`), where the app routes itself.
 * The API's paths are left alone.
 */
export async function webRoutes(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = path.resolve(opts.root ?? WEB_ROOT);
  // serve: false: we route ourselves, so a missing file under /api never becomes a static 404.
  await app.register(fastifyStatic, { root, serve: false });

  const sendIndex = (reply: FastifyReply) => {
    if (!fs.existsSync(path.join(root, 'index.html'))) return reply.code(503).type('text/html; charset=utf-8').headers({ 'cache-control': 'no-store' }).send(MISSING_BUILD);
    return reply.headers(HTML_HEADERS).sendFile('index.html', { cacheControl: false });
  };

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (isReserved(pathname)) return reply.callNotFound();
    if (pathname === '/' || pathname === '/index.html') return sendIndex(reply);
    const file = safeFile(root, pathname);
    if (file) {
      // Vite names every asset by its content hash: a changed file gets a new name.
      const cacheControl = pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=300';
      return reply.header('cache-control', cacheControl).header('x-content-type-options', 'nosniff').sendFile(file, { cacheControl: false });
    }
    if (!path.extname(pathname) && acceptsHtml(request)) return sendIndex(reply);
    return reply.callNotFound();
  });
}

/** The file under `root` this path names, if it exists; never a path outside `root`. */
function safeFile(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const full = path.resolve(root, `.${decoded}`);
  if (full !== root && !full.startsWith(root + path.sep)) return undefined;
  try {
    return fs.statSync(full).isFile() ? path.relative(root, full) : undefined;
  } catch {
    return undefined;
  }
}
