import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientSnapshotCache } from '../clients/client-snapshots.js';

/**
 * `GET /metrics` (docs/http-api.md §4) in the Prometheus text format: the process's default metrics,
 * requests by route and status, and the client snapshot cache's size. One registry per app, so
 * several apps in one process (tests) do not collide. Not authenticated: expose it to the
 * scraper's network only.
 */
export async function metricsRoutes(app: FastifyInstance, { clientSnapshots }: { clientSnapshots: ClientSnapshotCache }): Promise<void> {
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
    help: 'Clients whose snapshot (organization, roles, secret hashes) is cached in this process',
    registers: [registry],
    collect() {
      this.set(clientSnapshots.size);
    },
  });
  // One child counter per route, method and status, found by a string key: prom-client would
  // otherwise hash the label object on every answer, and this runs on every token request.
  const children = new Map<string, { inc(): void }>();
  // Registered on the root instance by server.ts, so it sees every route's answers. A callback
  // hook, not an async one: nothing here waits, so no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${route} ${request.method} ${reply.statusCode}`;
    let child = children.get(key);
    if (!child) {
      child = requests.labels({ route, method: request.method, status: String(reply.statusCode) });
      children.set(key, child);
    }
    child.inc();
    done();
  });
  app.get('/metrics', { schema: { operationId: 'getMetrics', security: [], summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
