/**
 * Why a request's access token was not accepted, as RFC 6750 §3 answers it. Each error
 * knows its HTTP status and its `WWW-Authenticate: Bearer` challenge; the Fastify and
 * Express guards send exactly that, and your own code can too (see `bearerErrorResponse`).
 */
export abstract class BearerError extends Error {
  /** The RFC 6750 §3.1 `error` code; undefined when the request carried no token at all (§3.1: no code then). */
  abstract readonly code: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable' | undefined;
  abstract readonly status: 400 | 401 | 403 | 503;
  /** Extra challenge parameters (e.g. `scope` for insufficient_scope). */
  challengeParams(): Record<string, string> {
    return {};
  }
}

/** No `Authorization: Bearer` header (RFC 6750 §3.1: 401 with a challenge and no error code). */
export class MissingTokenError extends BearerError {
  override name = 'MissingTokenError';
  readonly code = undefined;
  readonly status = 401;
  constructor() {
    super('An access token is required: send Authorization: Bearer <token>.');
  }
}

/** The Authorization header is malformed (RFC 6750 §3.1 `invalid_request`, 400). */
export class InvalidRequestError extends BearerError {
  override name = 'InvalidRequestError';
  readonly code = 'invalid_request';
  readonly status = 400;
}

/** Which check an invalid token failed (for logs; the client sees only `invalid_token` and a description). */
export type InvalidTokenReason =
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'unknown_key'
  | 'algorithm_not_allowed'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'inactive';

/**
 * The token is expired, revoked, malformed, not signed by the issuer's keys, or not for this
 * API (RFC 6750 §3.1 `invalid_token`, 401). `reason` names the failed check.
 */
export class InvalidTokenError extends BearerError {
  override name = 'InvalidTokenError';
  readonly code = 'invalid_token';
  readonly status = 401;
  constructor(
    readonly reason: InvalidTokenReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The token is valid but lacks a required permission (RFC 6750 §3.1 `insufficient_scope`, 403). */
export class InsufficientScopeError extends BearerError {
  override name = 'InsufficientScopeError';
  readonly code = 'insufficient_scope';
  readonly status = 403;
  constructor(
    /** Every permission the route requires. */
    readonly required: readonly string[],
    /** The required ones the token does not carry. */
    readonly missing: readonly string[],
  ) {
    super(`The access token lacks the permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
  }
  override challengeParams(): Record<string, string> {
    return { scope: this.required.join(' ') };
  }
}

/**
 * The token could not be checked: the issuer's metadata, key set or introspection endpoint
 * did not answer, or answered nonsense. Not the caller's fault, so not a 401 (which would
 * make well-behaved clients throw away good tokens): 503.
 */
export class VerifierUnavailableError extends BearerError {
  override name = 'VerifierUnavailableError';
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
}
