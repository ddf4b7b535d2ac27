import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import type { CatalogService } from '../../catalog/catalog-service.js';
import type { ClientService } from '../../clients/client-service.js';
import { ApiError } from '../../errors/api-error.js';
import { ThrottledError } from '../../errors/domain-errors.js';
import type { IdempotencyKeys } from '../../idempotency/idempotency-keys.js';
import type { UserService } from '../../orgs/user-service.js';
import type { Limiters } from '../../throttle/limiters.js';
import { rateLimitStore } from '../rate-limit-store.js';
import { installAccess, type AccessDeps } from './access.js';
import { auditRoutes } from './audit-routes.js';
import { catalogRoutes } from './catalog-routes.js';
import { installIdempotency } from './idempotency.js';
import { clientRoutes } from './client-routes.js';
import { organizationRoutes } from './organization-routes.js';
import { sessionRoutes } from './session-routes.js';
import { userRoutes } from './user-routes.js';
import { usageRoutes } from './usage-routes.js';
import type { PolicyCache } from '../../usage/policy-cache.js';
import type { PolicyService } from '../../usage/policy-service.js';
import type { UsageService } from '../../usage/usage-service.js';

export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What the management API is built from: the domain services, and two settings. */
export interface ManagementDeps extends AccessDeps {
  users: UserService;
  clients: ClientService;
  catalog: CatalogService;
  audit: AuditLog;
  usageReports: UsageService;
  policyService: PolicyService;
  policies: PolicyCache;
  idempotencyKeys: IdempotencyKeys;
  /** Requests per client address per minute; 0: no limit. */
  rateLimit: number;
  /** Where the rate limit counts (Redis with REDIS_URL). */
  limiters: Limiters;
  /** Called for each request the rate limit refuses (the metrics). */
  onRateLimited?: () => void;
}

/** The management API (docs/http-api.md §3) under /api/v1. Each route declares who may call it (./access.ts). */
export async function managementRoutes(app: FastifyInstance, deps: ManagementDeps): Promise<void> {
  await app.register(cookie);
  if (deps.rateLimit > 0) {
    await app.register(rateLimit, {
      ...rateLimitStore(deps.limiters, 'management-rate'),
      max: deps.rateLimit,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) => request.ip,
      errorResponseBuilder: (_request, ctx) => new ThrottledError(ctx.ttl / 1000),
      onExceeded: () => deps.onRateLimited?.(),
    });
  }
  // JSON in and out: a form-encoded body is what a foreign page's <form> can send (login CSRF).
  app.addHook('preValidation', async (request) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw new ApiError('invalid_request', 'Send the body as JSON (Content-Type: application/json).', 415);
  });
  installAccess(app, deps);
  // After the access check's hooks: a key belongs to the caller it identified.
  installIdempotency(app, deps.idempotencyKeys);
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  await sessionRoutes(typed, { sessions: deps.sessions, users: deps.users, memberships: deps.memberships, secureCookie: deps.issuer.startsWith('https://') });
  await organizationRoutes(typed, { organizations: deps.organizations, memberships: deps.memberships });
  await userRoutes(typed, { users: deps.users });
  await catalogRoutes(typed, { catalog: deps.catalog, policies: deps.policies });
  await clientRoutes(typed, { clients: deps.clients });
  await usageRoutes(typed, { clients: deps.clients, usage: deps.usageReports, policies: deps.policyService });
  await auditRoutes(typed, { audit: deps.audit });
}
