import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientSnapshotCache } from '../clients/client-snapshots.js';
import type { SharedRedis } from '../store/redis.js';
import { addMs, type Clock } from '../clock.js';
import type { Repositories } from '../store/repositories/index.js';
import type { Quotas } from '../usage/quotas.js';

/**
 * `GET /metrics` (docs/http-api.md §4) in the Prometheus text format: the process's default metrics,
 * requests by route and status, the client snapshot cache's size and, with REDIS_URL, whether
 * Redis answers. One registry per app, so
 * several apps in one process (tests) do not collide. Not authenticated: expose it to the
 * scraper's network only.
 */
export async function metricsRoutes(
  app: FastifyInstance,
  { clientSnapshots, quotas, read, clock, redis }: { clientSnapshots: ClientSnapshotCache; quotas: Quotas; read: Repositories; clock: Clock; redis: SharedRedis | undefined },
): Promise<void> {
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
  if (redis) {
    new Gauge({
      name: 'portcullis_redis_up',
      help: 'Whether Redis (REDIS_URL) answers: 1, limits are shared by every process; 0, each process counts on its own',
      registers: [registry],
      collect() {
        this.set(redis.up ? 1 : 0);
      },
    });
    let reported = 0;
    new Counter({
      name: 'portcullis_redis_fallbacks_total',
      help: 'Rate-limit and throttle operations counted in this process because Redis did not answer (unreachable, failed or timed out)',
      registers: [registry],
      collect() {
        this.inc(redis.fallbackCount - reported);
        reported = redis.fallbackCount;
      },
    });
  }
  const refusals = new Counter({
    name: 'portcullis_quota_refusals_total',
    help: 'Token requests refused with quota_exceeded by this process, by client',
    labelNames: ['client_id'] as const,
    registers: [registry],
  });
  quotas.onRefusal((clientId) => refusals.inc({ client_id: clientId }));
  new Gauge({
    name: 'portcullis_client_secrets_expiring',
    help: 'Client secrets that stop working within 14 days (secret_max_age_days, or a rotation grace period), counted at scrape time',
    registers: [registry],
    async collect() {
      const now = clock.now();
      this.set(await read.usage.secretsExpiringBy(now, addMs(now, 14 * 86400_000)));
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
