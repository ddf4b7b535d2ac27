import type { FastifyReply, FastifyRequest } from 'fastify';
import { authorizeRequest, bearerErrorResponse } from './bearer.js';
import { BearerError } from './errors.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requirePermissions` once the request's access token has passed. */
    accessToken?: VerifiedAccessToken;
  }
}

/**
 * A Fastify `preHandler` that lets a request through only with a valid access token (see
 * `AccessTokenVerifier.verify` for exactly what is checked) carrying every one of
 * `permissions`, and sets `request.accessToken`. Otherwise it answers as RFC 6750 §3 says:
 *
 * - no token (or another scheme): `401`, `WWW-Authenticate: Bearer` with no error code;
 * - malformed header: `400`, `error="invalid_request"`;
 * - invalid, expired, foreign or revoked token: `401`, `error="invalid_token"`;
 * - a permission missing: `403`, `error="insufficient_scope"`, `scope="<required>"`;
 * - the issuer's keys unreachable: `503` with `Retry-After` (the token could not be judged).
 *
 * The body is JSON `{error, error_description}`. Anything else thrown goes to Fastify's error handler.
 *
 * ```ts
 * app.get('/meters/:id', { preHandler: requirePermissions(verifier, 'meters:read') }, handler);
 * ```
 */
export function requirePermissions(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return async function portcullisGuard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      request.accessToken = await authorizeRequest(verifier, request.headers.authorization, permissions);
    } catch (err) {
      if (!(err instanceof BearerError)) throw err;
      const answer = bearerErrorResponse(err, verifier.realm);
      if (err.status === 503) request.log.warn({ err }, 'could not verify an access token');
      else request.log.debug({ reason: (err as { reason?: string }).reason, error: err.code }, 'access token refused');
      // Returning the reply from an async hook ends the request here (Fastify's hooks documentation).
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    }
    return undefined;
  };
}

/** `requirePermissions(verifier)`: any valid token for this API, whatever its permissions. */
export function requireAccessToken(verifier: AccessTokenVerifier) {
  return requirePermissions(verifier);
}
