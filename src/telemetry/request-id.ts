import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header that carries it both ways; every answer echoes it (http/security-headers.ts sets it first, before anything can fail). */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What an incoming `x-request-id` may be to be kept: what proxies and tracing front ends send
 * (UUIDs, hex, base64, `Root=1-…` style ids), bounded, and nothing that could forge a log line
 * or a header (no spaces, quotes, control characters or non-ASCII).
 */
const WELL_FORMED = /^[A-Za-z0-9._:;=+/-]{1,128}$/;

/**
 * Fastify's `genReqId`: the caller's `x-request-id` when it is well formed, so that one id
 * follows a request through the proxy and here; otherwise a fresh UUID. Fastify puts it on every
 * log line of the request (`reqId`).
 */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers[REQUEST_ID_HEADER];
  return typeof sent === 'string' && WELL_FORMED.test(sent) ? sent : randomUUID();
}
