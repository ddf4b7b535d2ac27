import type { FastifyInstance } from 'fastify';

/**
 * Whether this server is draining: it has been told to stop (SIGTERM) and is telling load
 * balancers (`/readyz` answers 503) and clients (`Connection: close` on every answer, so
 * kept-alive connections end after their current request) before it closes its port.
 * Requests keep being served while it drains.
 */
export class Lifecycle {
  draining = false;
}

/**
 * `Connection: close` on every answer while draining: clients reconnect elsewhere instead of
 * meeting a closed socket. A callback hook, not an async one: it runs for every answer, and an
 * async hook costs a promise each time.
 */
export function installDrainHeaders(app: FastifyInstance, lifecycle: Lifecycle): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
}
