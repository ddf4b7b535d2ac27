import { createHash } from 'node:crypto';
import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { REQUEST_ID_HEADER } from '../telemetry/request-id.js';

/**
 * Security headers (docs/security.md). Two layers:
 *
 * - every answer — token, OAuth error, management API, 404, static file, HTML — gets the
 *   baseline (`X-Content-Type-Options: nosniff`, and HSTS when the issuer is https) from one
 *   onRequest hook that sets precomputed values: the token endpoint pays a property copy,
 *   not @fastify/helmet, which builds its middleware again on every request;
 * - the HTML documents (the web app, Swagger UI at /docs) also get @fastify/helmet with a
 *   Content-Security-Policy of their own, no framing and no referrer.
 */

/** One year. Without includeSubDomains: the server vouches for its own host only (the issuer may sit on an apex domain). */
const HSTS = 'max-age=31536000';

/** The headers every answer carries; HSTS only when the issuer, the URL clients use, is https. */
function baselineHeaders(issuer: string): Record<string, string> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff' };
  if (isHttps(issuer)) headers['strict-transport-security'] = HSTS;
  return headers;
}

function isHttps(issuer: string): boolean {
  return issuer.startsWith('https://');
}

/**
 * Registered on the root instance before any plugin, so it runs first for every route and for
 * 404s, and its headers survive the error handler (Fastify keeps a reply's headers on errors).
 * The request id is echoed by the same hook (telemetry/request-id.ts): one hook per request, not two.
 */
export function installBaselineHeaders(app: FastifyInstance, issuer: string): void {
  const headers = baselineHeaders(issuer);
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}

type Directives = Record<string, string[]>;

/**
 * The admin web app: Vite builds one script and one stylesheet, both files of this origin; no
 * inline script, style, or event handler attribute. The setup and invitation pages carry one-time
 * tokens in their URL: no referrer. The console must not be framed (clickjacking).
 */
const WEB_APP_DIRECTIVES: Directives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The one inline style of Swagger UI: its top bar's logo, an SVG that React renders with this
 * `<style>` element (swagger-ui-standalone-preset.js; a test checks the installed file still has it)
 * for the moment before @fastify/swagger-ui puts its own logo, a `data:` image, in its place.
 */
export const SWAGGER_UI_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/** A CSP source allowing exactly this inline script or style. */
export function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/**
 * Swagger UI (@fastify/swagger-ui 6) under the web app's policy plus its logo's style, by hash.
 * Its page loads the bundle, the preset and the initializer as files (the plugin's static/csp.json
 * lists no inline script or style hashes); its stylesheet's icons are `data:` SVG images; no
 * validator badge is configured (validatorUrl null), so nothing comes from validator.swagger.io;
 * "Try it out" calls this origin. Not the plugin's `staticCSP: true`: that policy lets this origin
 * frame the page, takes styles from any https host, still refuses the logo's style, and upgrades
 * requests to https even when the issuer is http.
 */
const DOCS_EXTRA: Directives = { 'style-src': [sha256Source(SWAGGER_UI_LOGO_STYLE)] };

/** The directives with `extra`'s sources added (a page's inline style hashes). */
function policy(directives: Directives, https: boolean, extra: Directives = {}): Directives {
  const merged: Directives = {};
  for (const [name, sources] of Object.entries(directives)) merged[name] = [...sources, ...(extra[name] ?? [])];
  // Every source is this origin already; over https, a stray http:// URL is fetched as https instead.
  if (https) merged['upgrade-insecure-requests'] = [];
  return merged;
}

/**
 * @fastify/helmet's options for an HTML document. The baseline hook already sets nosniff and HSTS
 * on every answer, so helmet leaves those two alone (one source per header). Helmet's other
 * defaults stay: Cross-Origin-Opener-Policy and Cross-Origin-Resource-Policy same-origin,
 * Origin-Agent-Cluster, X-DNS-Prefetch-Control off, X-Download-Options, X-Permitted-Cross-Domain-Policies none,
 * X-XSS-Protection 0.
 */
function documentOptions(directives: Directives, https: boolean, extra?: Directives): FastifyHelmetOptions {
  return {
    contentSecurityPolicy: { useDefaults: false, directives: policy(directives, https, extra) },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    xContentTypeOptions: false,
  };
}

export function webAppHelmet(issuer: string, extra?: Directives): FastifyHelmetOptions {
  return documentOptions(WEB_APP_DIRECTIVES, isHttps(issuer), extra);
}

export function docsHelmet(issuer: string): FastifyHelmetOptions {
  return documentOptions(WEB_APP_DIRECTIVES, isHttps(issuer), DOCS_EXTRA);
}
