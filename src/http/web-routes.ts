import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sha256Source, webAppHelmet } from './security-headers.js';

/**
 * Where `npm run build:web` puts the admin app: `dist/web`. This file sits two folders
 * below the project root both as `src/http/web-routes.ts` and as `dist/http/web-routes.js`.
 */
export const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** Paths the app never answers, so that their 404s stay the API's own JSON. */
const NOT_THE_APP = ['/api', '/oauth', '/oauth2', '/.well-known', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics'];

const MISSING_BUILD_STYLE = 'body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5 }';

const MISSING_BUILD = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis</title><style>${MISSING_BUILD_STYLE}</style></head>
<body>
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
 * The API's paths are left alone. With an https `issuer`, the policy also upgrades insecure requests.
 */
export async function webRoutes(app: FastifyInstance, opts: { issuer: string; root?: string }): Promise<void> {
  const root = path.resolve(opts.root ?? WEB_ROOT);
  // serve: false: we route ourselves, so a missing file under /api never becomes a static 404.
  await app.register(fastifyStatic, { root, serve: false });
  // global: false: the app's files and pages call reply.helmet(); a path handed back to the 404
  // handler (callNotFound) stays an API answer with the baseline headers only.
  await app.register(helmet, { global: false, ...webAppHelmet(opts.issuer) });
  // The missing-build page's one style element, by hash: the policy allows no other inline style.
  const missingBuildPolicy = webAppHelmet(opts.issuer, { 'style-src': [sha256Source(MISSING_BUILD_STYLE)] });

  const sendIndex = (reply: FastifyReply) => {
    if (!fs.existsSync(path.join(root, 'index.html'))) {
      reply.helmet(missingBuildPolicy);
      return reply.code(503).type('text/html; charset=utf-8').headers({ 'cache-control': 'no-store' }).send(MISSING_BUILD);
    }
    reply.helmet();
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (isReserved(pathname)) return reply.callNotFound();
    if (pathname === '/' || pathname === '/index.html') return sendIndex(reply);
    const file = safeFile(root, pathname);
    if (file) {
      // Vite names every asset by its content hash: a changed file gets a new name.
      const cacheControl = pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=300';
      // The document headers too: an SVG opened on its own is a document that could run script.
      reply.helmet();
      return reply.header('cache-control', cacheControl).sendFile(file, { cacheControl: false });
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
