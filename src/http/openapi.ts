import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { ErrorBody } from '../wire/management.js';

/**
 * How the OpenAPI document (`/openapi.json`, `/docs`) is made from the routes: each route declares
 * its `operationId` and `summary` in its schema; its `security` follows from what the route
 * declares about its callers (`config.access` for the management API, `config.oauth` for the
 * endpoints that authenticate a client), so the document cannot say something else than the hook
 * that checks them. A public route outside both declares `security: []` itself.
 * test/http/openapi.test.ts fails for a route that has none of these, and lints the result.
 */

type RouteOptions = Parameters<NonNullable<FastifyDynamicSwaggerOptions['transform']>>[0]['route'];
type Schema = Record<string, unknown>;

/** Security requirement objects (OpenAPI 3.0 §4.7.30): any one of them suffices. */
const SESSION = [{ session: [] }];
const SESSION_OR_BEARER = [{ session: [] }, { bearer: [] }];
/** client_secret_basic, or the credentials (client_secret_post, private_key_jwt) in the body: `{}`. */
const CLIENT = [{ clientBasic: [] }, {}];

export const securitySchemes = {
  session: { type: 'apiKey', in: 'cookie', name: 'portcullis_session', description: 'From POST /api/v1/session; unsafe methods also need the x-csrf-token header' },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A client-credentials access token for the audience <ISSUER>/api/v1/' },
  clientBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'client_secret_basic (RFC 6749 §2.3.1); client_secret_post and private_key_jwt send the credentials in the body instead',
  },
} as const;

/** The security requirement of a route, from its declared access; undefined when it declares none. */
function securityOf(route: RouteOptions): unknown[] | undefined {
  const config = (route.config ?? {}) as { access?: Record<string, unknown>; oauth?: boolean };
  const access = config.access;
  if (access) {
    if (access.public) return [];
    if (access.user || access.platformAdmin) return SESSION;
    // Client tokens reach a route only through the permission it names.
    return access.permission ? SESSION_OR_BEARER : SESSION;
  }
  if (config.oauth) return CLIENT;
  return undefined;
}

/**
 * @fastify/swagger's per-route transform: security from the route's access, and the 429 that
 * the management API's rate limit answers on every route (the route's handler never does, so
 * its response schema does not list it).
 */
export const describeRoute: NonNullable<FastifyDynamicSwaggerOptions['transform']> = ({ schema, url, route }) => {
  if (!schema || (schema as Schema).hide) return { schema, url };
  const out: Schema = { ...(schema as Schema) };
  const security = securityOf(route);
  if (security !== undefined && out.security === undefined) out.security = security;
  const config = (route.config ?? {}) as { access?: unknown };
  const responses = (out.response ?? {}) as Schema;
  if (config.access && responses['429'] === undefined) {
    out.response = { ...responses, 429: { ...ErrorBody, description: 'Too many requests: retry after Retry-After seconds' } };
  }
  return { schema: out as typeof schema, url };
};

/**
 * @fastify/swagger's whole-document transform: every schema with a `title` (the shared objects of
 * src/wire/management.ts) becomes one `components.schemas` entry, referenced wherever it appears.
 */
export function shareTitledSchemas<T>(document: T): T {
  const doc = document as Schema & { components?: Schema & { schemas?: Record<string, unknown> } };
  const shared: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  const hoist = (node: unknown, inComponent?: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => hoist(n, inComponent));
    if (typeof node !== 'object' || node === null) return node;
    const obj = node as Schema;
    const title = typeof obj.title === 'string' ? obj.title : undefined;
    if (title && title !== inComponent) {
      // A description belongs to where the schema is used (a response says what it means there).
      const { title: _title, description: _description, ...rest } = obj;
      const body = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, hoist(v, title)]));
      const json = JSON.stringify(body);
      const known = seen.get(title);
      if (known === undefined) {
        seen.set(title, json);
        shared[title] = { title, ...body };
      } else if (known !== json) {
        // Two different schemas under one name would make one of them wrong in the document.
        throw new Error(`Two different schemas carry the title ${title}: give one of them another title.\n${known}\n${json}`);
      }
      return { $ref: `#/components/schemas/${title}` };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, hoist(v, inComponent)]));
  };
  const paths = hoist(doc.paths) as Schema;
  return { ...doc, paths, components: { ...doc.components, schemas: { ...doc.components?.schemas, ...shared } } } as T;
}

/** Portcullis's mark and name for the top bar of /docs (rendered as a `data:` image: img-src allows it). */
const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="170" height="40" viewBox="0 0 170 40">' +
  '<rect x="2" y="4" width="28" height="32" rx="3" fill="none" stroke="#fff" stroke-width="3"/>' +
  '<path d="M9 4v32M16 4v32M23 4v32M2 14h28M2 24h28" stroke="#fff" stroke-width="2"/>' +
  '<text x="40" y="28" font-family="system-ui, sans-serif" font-size="22" font-weight="600" fill="#fff">Portcullis</text></svg>';

/**
 * @fastify/swagger-ui's branding options: the page title, favicon, logo and top-bar colour are
 * Portcullis's. The stylesheet and favicon are files under /docs/static/theme (style-src and
 * img-src 'self'), so the page's CSP needs nothing new.
 */
export const docsTheme = {
  theme: {
    title: 'Portcullis API',
    css: [{ filename: 'portcullis.css', content: '.swagger-ui .topbar { background-color: #1f2a44; } .swagger-ui .topbar .download-url-wrapper { display: none; }' }],
    favicon: [
      {
        filename: 'favicon.svg',
        rel: 'icon',
        sizes: 'any',
        type: 'image/svg+xml',
        content: Buffer.from(LOGO_SVG.replace('width="170"', 'width="32"').replace('viewBox="0 0 170 40"', 'viewBox="0 0 32 40"')),
      },
    ],
  },
  logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: '/docs', target: '_self' as const },
};
