import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/connect.js';

/** `/healthz`: the process answers. `/readyz`: and its database does too (load balancers route on this one). */
export async function healthRoutes(app: FastifyInstance, { store }: { store: Pick<Store, 'ping' | 'kind'> }): Promise<void> {
  app.get('/healthz', { schema: { tags: ['health'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['health'] } }, async (request, reply) => {
    try {
      await store.ping();
      return { status: 'ok', database: store.kind };
    } catch (err) {
      request.log.warn({ err }, 'readiness check: database does not answer');
      return reply.code(503).send({ status: 'unavailable', database: store.kind });
    }
  });
}
