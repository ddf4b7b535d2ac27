import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { describeRoute, docsTheme, securitySchemes, shareTitledSchemas } from './http/openapi.js';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, type RouteOptions } from 'fastify';
import { levels, pino, type Logger } from 'pino';
import { frameworkError, installErrorHandler } from './http/error-handler.js';
import { validatorCompiler } from './http/validation.js';
import { healthRoutes } from './http/health-routes.js';
import { installDrainHeaders, Lifecycle } from './http/lifecycle.js';
import { managementRoutes } from './http/management/index.js';
import { metricsRoutes } from './http/metrics-routes.js';
import { oauthRoutes } from './http/oauth-routes.js';
import { docsHelmet, installBaselineHeaders } from './http/security-headers.js';
import { webRoutes } from './http/web-routes.js';
import { wellKnownRoutes } from './http/well-known-routes.js';
import type { Runtime } from './runtime.js';
import { requestIdOf } from './telemetry/request-id.js';
import { requestLoggerFactory } from './telemetry/request-logger.js';
import { installRequestTracing } from './telemetry/tracing.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Hot-path routes: a successful answer is logged at debug, not info. */
    quietOnSuccess?: boolean;
  }
}

/** Never let a secret reach the log through a URL (query-string credentials). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:client_secret|refresh_token|token)=)[^&#]*/gi, '$1[redacted]');
}

/** Logger options: request lines without headers or bodies, secrets redacted wherever they could appear. */
export function loggerOptions(level: string, stream?: { write(line: string): void }): FastifyServerOptions['logger'] {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.client_secret', 'client_secret', '*.password'], censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactUrl(req.url), ip: req.ip }),
    },
  };
}

/** The process's own logger (start, stop, housekeeping), with the requests' options and destination. */
export function processLogger(level: string, stream?: { write(line: string): void }): Logger {
  const options = loggerOptions(level) as pino.LoggerOptions;
  return stream ? pino(options, stream) : pino(options);
}

/**
 * Where log lines go: undefined for pino's own JSON on stdout; for LOG_FORMAT=pretty, pino-pretty
 * (imported only then: a JSON server never loads it), synchronous in this thread, so that a
 * line is on the terminal before the process goes on (and before it exits).
 */
export async function logDestination(format: 'pretty' | 'json', destination?: NodeJS.WritableStream): Promise<{ write(line: string): void } | undefined> {
  if (format === 'json') return undefined;
  const { default: pretty } = await import('pino-pretty');
  return pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', ...(destination ? { destination, colorize: false } : {}) });
}

/**
 * One line per request, when it completes; none when it arrives. A successful token
 * request (the hot path) logs at debug, so at the default level it costs nothing.
 */
class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const level = error ? 'error' : request.routeOptions.config?.quietOnSuccess === true && reply.statusCode < 400 ? 'debug' : 'info';
    // The hot path's answers log at debug: at the usual levels, build nothing for them.
    // pino's own level numbers; `silent` is not among them and drops everything.
    if ((levels.values[level] ?? 0) < (levels.values[request.log.level] ?? Infinity)) return;
    const entry = { req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) request.log.error({ ...entry, err: error }, 'request failed');
    else request.log[level](entry, 'request');
  }
}

/** Builds the HTTP app on a started runtime. No logic here: each area is a plugin. */
export async function buildServer(
  runtime: Runtime,
  opts: {
    logStream?: { write(line: string): void };
    /** Sees every route as it is registered (tests walk them). */
    onRoute?: (route: RouteOptions) => void;
    /** The built web app's folder; default dist/web (tests serve a small one of their own). */
    webRoot?: string;
    /** Shared with whoever stops the server (main.ts): draining turns /readyz 503 and closes kept-alive connections. */
    lifecycle?: Lifecycle;
  } = {},
): Promise<FastifyInstance> {
  const { config } = runtime;
  const app = Fastify({
    // Always our options: the redaction must not depend on who builds the server.
    logger: loggerOptions(config.logLevel, opts.logStream ?? (await logDestination(config.logFormat))),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    logController: new AccessLog(),
    // Our own, validated (telemetry/request-id.ts); Fastify would take any x-request-id as it is.
    requestIdHeader: false,
    genReqId: requestIdOf,
    childLoggerFactory: requestLoggerFactory,
    frameworkErrors: frameworkError,
    // Longer than any parameter the schemas allow (ids are at most 128), so that a long one is the schema's 400.
    routerOptions: { maxParamLength: 1024 },
    // While closing, a request that still arrives on an open connection is served, not refused with 503.
    return503OnClosing: false,
  });
  const lifecycle = opts.lifecycle ?? new Lifecycle();
  installDrainHeaders(app, lifecycle);
  app.setValidatorCompiler(validatorCompiler());
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  // First of all hooks: nosniff (and HSTS over https) and x-request-id on every answer, errors and 404s included.
  installBaselineHeaders(app, config.issuer);
  // Only with tracing on: otherwise no hook at all, so the hot path pays nothing.
  if (runtime.tracer) installRequestTracing(app, runtime.tracer);
  installErrorHandler(app);
  await app.register(formbody, { bodyLimit: config.bodyLimit });
  // The OpenAPI document is generated from the routes' own schemas (docs/http-api.md §4).
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Portcullis',
        version: '1',
        description: 'OAuth 2.0 authorization server for organization clients: the OAuth endpoints, discovery, and the management API (/api/v1).',
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      },
      servers: [{ url: config.issuer, description: 'This server (ISSUER)' }],
      components: { securitySchemes },
    },
    transform: describeRoute,
    transformObject: (document) => ('openapiObject' in document ? shareTitledSchemas(document.openapiObject) : document.swaggerObject),
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Swagger UI's pages, files and /docs/json: helmet with the UI's own policy, in this scope only.
  await app.register(async (docs) => {
    await docs.register(helmet, docsHelmet(config.issuer));
    await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true }, ...docsTheme });
  });
  // Not encapsulated and before the other routes: its onResponse hook counts every route's answers.
  await metricsRoutes(app, { metrics: runtime.metrics });
  await app.register(oauthRoutes, {
    tokenEndpoint: runtime.tokenEndpoint,
    authenticator: runtime.authenticator,
    introspection: runtime.introspection,
    revocation: runtime.revocation,
    allowQueryCredentials: config.allowQueryCredentials,
    tokenRateLimit: config.tokenRateLimit,
    limiters: runtime.limiters,
    onRateLimited: () => runtime.metrics.rateLimitExceeded('token'),
    issuer: config.issuer,
  });
  await app.register(wellKnownRoutes, { issuer: config.issuer, grantTypes: runtime.tokenEndpoint.grantTypes, signingKeys: runtime.signingKeys, clock: runtime.clock });
  await app.register(healthRoutes, { store: runtime.store, lifecycle });
  await app.register(managementRoutes, {
    prefix: '/api/v1',
    issuer: config.issuer,
    rateLimit: config.managementRateLimit,
    limiters: runtime.limiters,
    onRateLimited: () => runtime.metrics.rateLimitExceeded('management'),
    sessions: runtime.sessions,
    memberships: runtime.memberships,
    organizations: runtime.organizations,
    users: runtime.users,
    accessTokens: runtime.accessTokens,
    clientSnapshots: runtime.clientSnapshots,
    clients: runtime.clients,
    catalog: runtime.catalogService,
    audit: runtime.audit,
    usageReports: runtime.usageReports,
    policyService: runtime.policyService,
    policies: runtime.policies,
    idempotencyKeys: runtime.idempotencyKeys,
  });
  await app.register(async (scope) => webRoutes(scope, { issuer: config.issuer, root: opts.webRoot }));
  return app;
}
