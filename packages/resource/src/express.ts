import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { authorizeRequest, bearerErrorResponse, type PermissionRequirement } from './bearer.js';
import { BearerError } from './errors.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js';

declare global {
  // Express declares its Request type in this global namespace; this adds what the guard sets.
  namespace Express {
    interface Request {
      /** Set by `requirePermissions` once the request's access token has passed. */
      accessToken?: VerifiedAccessToken;
    }
  }
}

/** The request and response the middleware touches: Express's, Connect's, or Node's own. */
export type GuardedRequest = IncomingMessage & { accessToken?: VerifiedAccessToken; protocol?: string; originalUrl?: string };

/**
 * Express (or Connect) middleware that calls `next()` only for a request with a valid access
 * token (see `AccessTokenVerifier.verify` for exactly what is checked) carrying every one of
 * `permissions`, after setting `req.accessToken`. A token comes as `Authorization: Bearer`, or
 * as `Authorization: DPoP` with a `DPoP` proof for this method and URL (RFC 9449 §7; the URL is
 * Express's `req.protocol` (else TLS or not), the `Host` header and `req.originalUrl`, or the
 * verifier's `dpop.origin`). Otherwise it ends the response as RFC 6750 §3 and RFC 9449 §7.1 say:
 * `401` with `WWW-Authenticate: Bearer` (no error code without a token, `error="invalid_token"`
 * for a bad one), `WWW-Authenticate: DPoP …, algs="…"` for a request that used DPoP (a bad
 * proof is `error="invalid_dpop_proof"`), `400` `invalid_request` for a malformed header,
 * `403` `insufficient_scope` with the required `scope`, or `503` when the issuer's keys
 * cannot be fetched. The body is JSON `{error, error_description}`. Unexpected errors go to `next(err)`.
 *
 * ```ts
 * app.post('/meters/:id/readings', requirePermissions(verifier, 'meters:write'), handler);
 * ```
 */
export function requirePermissions(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return guard(verifier, permissions);
}

/**
 * Like `requirePermissions`, but any one of `permissions` is enough (a `403 insufficient_scope`
 * names them all when the token holds none).
 */
export function requireAnyPermission(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return guard(verifier, { anyOf: permissions });
}

/** `requirePermissions(verifier)`: any valid token for this API, whatever its permissions. */
export function requireAccessToken(verifier: AccessTokenVerifier) {
  return requirePermissions(verifier);
}

function guard(verifier: AccessTokenVerifier, required: PermissionRequirement) {
  return function portcullisGuard(req: GuardedRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const protocol = req.protocol ?? ((req.socket as TLSSocket).encrypted ? 'https' : 'http');
    const origin = verifier.dpop?.origin ?? `${protocol}://${req.headers.host ?? 'localhost'}`;
    authorizeRequest(verifier, req.headers.authorization, required, { proof: req.headers.dpop, method: req.method ?? 'GET', url: `${origin}${req.originalUrl ?? req.url ?? '/'}` }).then(
      (token) => {
        req.accessToken = token;
        next();
      },
      (err: unknown) => {
        if (!(err instanceof BearerError)) return next(err);
        const answer = bearerErrorResponse(err, verifier.realm);
        res.statusCode = answer.status;
        for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(answer.body));
      },
    );
  };
}
