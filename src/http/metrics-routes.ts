import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../telemetry/metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The token endpoint: its answers count as tokens issued or refused (portcullis_tokens_*). */
    tokenEndpoint?: boolean;
  }
}

/**
 * `GET /metrics` (docs/http-api.md §4) in the Prometheus text format; docs/operator-guide.md
 * lists the metrics. Not authenticated: expose it to the scraper's network only.
 */
export async function metricsRoutes(app: FastifyInstance, { metrics }: { metrics: Metrics }): Promise<void> {
  // Registered on the root instance by server.ts, so it sees every route's answers. A callback
  // hook, not an async one: nothing here waits, so no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    // Read once: Fastify builds routeOptions afresh on every read.
    const route = request.routeOptions;
    metrics.answered(route.url, request.method, status, reply.elapsedTime / 1000);
    if (route.config?.tokenEndpoint === true) {
      const grantType = (request.body as { grant_type?: unknown } | undefined)?.grant_type;
      if (status === 200) metrics.tokenIssued(grantType);
      else metrics.tokenRefused(grantType, reply.oauthError ?? 'other');
    }
    done();
  });
  app.get('/metrics', { schema: { operationId: 'getMetrics', security: [], summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.type(contentType).send(body);
  });
}
