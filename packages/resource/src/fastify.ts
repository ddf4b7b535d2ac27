import type { FastifyReply, FastifyRequest } from 'fastify';
import { authorizeRequest, bearerErrorResponse, type PermissionRequirement } from './bearer.js';
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
 * `permissions`, and sets `request.accessToken`. A token comes as `Authorization: Bearer`, or
 * as `Authorization: DPoP` with a `DPoP` proof for this method and URL (RFC 9449 §7; the URL is
 * `request.protocol`, `request.host` and `request.url`, or the verifier's `dpop.origin`).
 * Otherwise it answers as RFC 6750 §3 and RFC 9449 §7.1 say:
 *
 * - no token (or another scheme): `401`, `WWW-Authenticate: Bearer` with no error code
 *   (`DPoP algs="…"` when the verifier requires DPoP);
 * - malformed header: `400`, `error="invalid_request"`;
 * - invalid, expired, foreign or revoked token: `401`, `error="invalid_token"`; a DPoP-bound
 *   token sent as a bearer token, or with a proof of another key, is one;
 * - a bad DPoP proof: `401`, `WWW-Authenticate: DPoP error="invalid_dpop_proof", …, algs="…"`;
 * - a permission missing: `403`, `error="insufficient_scope"`, `scope="<required>"`;
 * - the issuer's keys unreachable: `503` with `Retry-After` (the token could not be judged).
 *
 * Requests that used DPoP are answered with a `DPoP` challenge, others with `Bearer`. The body
 * is JSON `{error, error_description}`. Anything else thrown goes to Fastify's error handler.
 *
 * ```ts
 * app.get('/meters/:id', { preHandler: requirePermissions(verifier, 'meters:read') }, handler);
 * ```
 */
export function requirePermissions(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return guard(verifier, permissions);
}

/**
 * Like `requirePermissions`, but any one of `permissions` is enough (a `403 insufficient_scope`
 * names them all when the token holds none).
 *
 * ```ts
 * app.get('/meters/:id', { onRequest: requireAnyPermission(verifier, 'meters:read', 'meters:admin') }, handler);
 * ```
 */
export function requireAnyPermission(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return guard(verifier, { anyOf: permissions });
}

/** `requirePermissions(verifier)`: any valid token for this API, whatever its permissions. */
export function requireAccessToken(verifier: AccessTokenVerifier) {
  return requirePermissions(verifier);
}

function guard(verifier: AccessTokenVerifier, required: PermissionRequirement) {
  return async function portcullisGuard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      const origin = verifier.dpop?.origin ?? `${request.protocol}://${request.host}`;
      request.accessToken = await authorizeRequest(verifier, request.headers.authorization, required, {
        proof: request.headers.dpop,
        method: request.method,
        url: `${origin}${request.url}`,
      });
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
