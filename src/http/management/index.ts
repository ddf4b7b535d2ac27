import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import { RateLimited } from '../../errors/api-error.js';
import type { Runtime } from '../../runtime.js';
import { auditRoutes } from './audit-routes.js';
import { catalogRoutes } from './catalog-routes.js';
import { clientRoutes } from './client-routes.js';
import { organizationRoutes } from './organization-routes.js';
import { authenticate, type Principal } from './principal.js';
import { sessionRoutes } from './session-routes.js';
import { userRoutes } from './user-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every management route not marked `public`. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** A management route that needs no authentication (sign-in, first-run setup, invitations). */
    public?: boolean;
  }
}

export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** The management API (API.md §3) under /api/v1. */
export async function managementRoutes(app: FastifyInstance, runtime: Runtime): Promise<void> {
  await app.register(cookie);
  if (runtime.config.managementRateLimit > 0) {
    await app.register(rateLimit, {
      max: runtime.config.managementRateLimit,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) => request.ip,
      errorResponseBuilder: (_request, ctx) => new RateLimited(ctx.ttl / 1000),
    });
  }
  app.decorateRequest('principal', null as never);
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config?.public) return;
    request.principal = await authenticate(runtime, request);
  });
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  await sessionRoutes(typed, runtime);
  await organizationRoutes(typed, runtime);
  await userRoutes(typed, runtime);
  await catalogRoutes(typed, runtime);
  await clientRoutes(typed, runtime);
  await auditRoutes(typed, runtime);
}
