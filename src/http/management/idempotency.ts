import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ApiError } from '../../errors/api-error.js';
import { bodyHash, type ClaimedKey, type IdempotencyKeys } from '../../idempotency/idempotency-keys.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The answer's headers that a replay repeats; others (cookies, rate-limit counters) belong to each request. */
const REPLAYED_HEADERS = ['content-type', 'cache-control', 'location'];

/** `Idempotency-Key`: 1 to 255 printable ASCII characters. Declared on every unsafe route, so Fastify validates it and the OpenAPI document shows it. */
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x20-\\x7E]+$',
      description: 'Makes the request safe to retry for 24 hours: a repeat by the same caller gets the first answer and changes nothing; the same key with another request → 409 conflict.',
    }),
  ),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** The canonical body's hash, taken before validation normalizes the body; set when the request has an Idempotency-Key. */
    idempotencyBodyHash: string | null;
    /** The key this request claimed, while its transaction is open. */
    idempotencyClaim: ClaimedKey | null;
  }
}

/**
 * `Idempotency-Key` on the unsafe routes of `app` (src/idempotency/idempotency-keys.ts):
 *
 * 1. preValidation: hash the body as sent.
 * 2. preHandler (after the access check): claim the key for the caller, or answer with the
 *    stored answer (`Idempotent-Replayed: true`), or 409 when the key answered another request.
 * 3. The route's handler runs inside the claim's held transaction, which every service joins.
 * 4. onSend: a 2xx answer is stored in that transaction and committed before a byte is sent;
 *    any other answer rolls it back. onResponse rolls back whatever is still open.
 *
 * Public routes (sign-in, setup, invitations) have no caller to key on: there the header is
 * validated but not remembered.
 */
export function installIdempotency(app: FastifyInstance, keys: IdempotencyKeys): void {
  app.decorateRequest('idempotencyBodyHash', null);
  app.decorateRequest('idempotencyClaim', null);
  app.addHook('onRoute', (route) => {
    if (![route.method].flat().some((m) => UNSAFE.has(m))) return;
    const schema = route.schema ?? {};
    if (schema.headers) throw new Error(`${String(route.method)} ${route.url}: merge its headers schema with the Idempotency-Key header`);
    route.schema = { ...schema, headers: IdempotencyHeaders };
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const claim = request.idempotencyClaim;
      return claim ? claim.held.run(() => handler.call(this, request, reply)) : handler.call(this, request, reply);
    };
  });
  app.addHook('preValidation', async (request) => {
    if (UNSAFE.has(request.method) && request.headers['idempotency-key'] !== undefined) request.idempotencyBodyHash = bodyHash(request.body);
  });
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (!UNSAFE.has(request.method) || typeof key !== 'string' || !request.principal) return;
    const caller = request.principal.kind === 'user' ? `user:${request.principal.user.id}` : `client:${request.principal.clientId}`;
    const outcome = await keys.claim(caller, key, { method: request.method, path: request.url, bodyHash: request.idempotencyBodyHash ?? bodyHash(request.body) });
    if (outcome.kind === 'claimed') {
      request.idempotencyClaim = outcome.claim;
      return;
    }
    if (outcome.kind === 'mismatch') throw new ApiError('conflict', 'This Idempotency-Key was used for another request (method, path or body); use a new key for a new request.', 409);
    const { status, headers, body } = outcome.answer;
    return reply.code(status).headers(headers).header('idempotent-replayed', 'true').send(body);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotencyClaim;
    if (!claim?.held.open) return payload;
    if (reply.statusCode < 200 || reply.statusCode >= 300) {
      await claim.held.rollback();
      return payload;
    }
    if (payload !== undefined && payload !== null && typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
      // A streamed answer cannot be stored before it is sent; no management route streams.
      await claim.held.rollback();
      throw new Error(`${request.method} ${request.url} streamed its answer: it cannot be stored for its Idempotency-Key`);
    }
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    await keys.complete(claim, { status: reply.statusCode, headers, body: payload === undefined || payload === null ? '' : payload.toString() });
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    await request.idempotencyClaim?.held.rollback();
  });
}
