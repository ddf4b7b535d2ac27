import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Runtime } from '../runtime.js';

/**
 * `GET /metrics` (API.md §4) in the Prometheus text format: the process's default metrics,
 * requests by route and status, and the grant cache's size. One registry per app, so
 * several apps in one process (tests) do not collide. Not authenticated: expose it to the
 * scraper's network only.
 */
export async function metricsRoutes(app: FastifyInstance, runtime: Runtime): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'portcullis_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'portcullis_grant_cache_entries',
    help: 'Clients whose compiled grant is cached in this process',
    registers: [registry],
    collect() {
      this.set(runtime.grants.size);
    },
  });
  // Registered on the root instance by server.ts, so it sees every route's answers.
  app.addHook('onResponse', async (request, reply) => {
    requests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
