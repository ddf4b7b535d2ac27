import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorizeRequest, bearerErrorResponse } from './bearer.js';
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
export type GuardedRequest = IncomingMessage & { accessToken?: VerifiedAccessToken };

/**
 * Express (or Connect) middleware that calls `next()` only for a request with a valid access
 * token (see `AccessTokenVerifier.verify` for exactly what is checked) carrying every one of
 * `permissions`, after setting `req.accessToken`. Otherwise it ends the response as RFC 6750
 * §3 says: `401` with `WWW-Authenticate: Bearer` (no error code without a token,
 * `error="invalid_token"` for a bad one), `400` `invalid_request` for a malformed header,
 * `403` `insufficient_scope` with the required `scope`, or `503` when the issuer's keys
 * cannot be fetched. The body is JSON `{error, error_description}`. Unexpected errors go to `next(err)`.
 *
 * ```ts
 * app.post('/meters/:id/readings', requirePermissions(verifier, 'meters:write'), handler);
 * ```
 */
export function requirePermissions(verifier: AccessTokenVerifier, ...permissions: string[]) {
  return function portcullisGuard(req: GuardedRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    authorizeRequest(verifier, req.headers.authorization, permissions).then(
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

/** `requirePermissions(verifier)`: any valid token for this API, whatever its permissions. */
export function requireAccessToken(verifier: AccessTokenVerifier) {
  return requirePermissions(verifier);
}
