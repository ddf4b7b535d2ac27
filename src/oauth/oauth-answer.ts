import { InvalidCursorError, InvalidInputError, ThrottledError, UnavailableError } from '../errors/domain-errors.js';
import { InvalidRequestError, OAuthError, TemporarilyUnavailableError, TooManyRequestsError } from '../errors/oauth-error.js';
import { isDatabaseUnavailable } from '../store/faults.js';

/** RFC 6749 §5.1 and §5.2: no OAuth answer (a token, an error, introspection's, revocation's) is to be cached. */
export const NO_STORE = Object.freeze({ 'cache-control': 'no-store', pragma: 'no-cache' });

/** Seconds a client is asked to wait when the database cannot be reached. */
export const UNAVAILABLE_RETRY_AFTER = 5;

/**
 * The OAuth error (RFC 6749 §5.2) that a failure of an OAuth endpoint's work answers with, or
 * undefined for an unexpected one (a 500 `server_error`). The one mapping from domain errors to
 * OAuth codes: the HTTP edge answers with it and the usage counts record its code, so that a
 * failed request counts under the code its caller was sent. Fastify's own errors (validation,
 * bodies) are the edge's to map.
 */
export function oauthErrorOf(err: unknown): OAuthError | undefined {
  if (err instanceof UnavailableError || isDatabaseUnavailable(err)) return new TemporarilyUnavailableError(UNAVAILABLE_RETRY_AFTER);
  if (err instanceof OAuthError) return err;
  if (err instanceof ThrottledError) return new TooManyRequestsError(err.retryAfterSeconds);
  if (err instanceof InvalidInputError || err instanceof InvalidCursorError) return new InvalidRequestError(err.message);
  return undefined;
}
