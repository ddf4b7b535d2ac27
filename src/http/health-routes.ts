import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/connect.js';
import type { Lifecycle } from './lifecycle.js';

/**
 * `/healthz`: the process answers. `/readyz`: and its database does too, and it is not
 * draining (load balancers route on this one).
 */
export async function healthRoutes(app: FastifyInstance, { store, lifecycle }: { store: Pick<Store, 'ping' | 'kind'>; lifecycle: Lifecycle }): Promise<void> {
  app.get('/healthz', { schema: { operationId: 'getHealth', security: [], summary: 'Liveness: the process is up', tags: ['health'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { operationId: 'getReadiness', security: [], summary: 'Readiness: the database answers', tags: ['health'] } }, async (request, reply) => {
    if (lifecycle.draining) return reply.code(503).send({ status: 'draining', database: store.kind });
    try {
      await store.ping();
      return { status: 'ok', database: store.kind };
    } catch (err) {
      request.log.warn({ err }, 'readiness check: database does not answer');
      return reply.code(503).send({ status: 'unavailable', database: store.kind });
    }
  });
}
