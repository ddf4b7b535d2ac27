/**
 * The scheme of the `WWW-Authenticate` challenge an error is answered with: `Bearer`
 * (RFC 6750 §3), or `DPoP` with the proof algorithms accepted (RFC 9449 §7.1) for a request
 * that used DPoP, a DPoP-bound token sent as a bearer token, or an API that requires DPoP.
 */
export type Challenge = { scheme: 'Bearer' } | { scheme: 'DPoP'; algs: readonly string[] };

/**
 * Why a request's access token was not accepted, as RFC 6750 §3 (and RFC 9449 §7.1 for DPoP)
 * answers it. Each error knows its HTTP status and its `WWW-Authenticate` challenge; the
 * Fastify and Express guards send exactly that, and your own code can too (see `bearerErrorResponse`).
 */
export abstract class BearerError extends Error {
  /** The RFC 6750 §3.1 (or RFC 9449 §7.1) `error` code; undefined when the request carried no token at all (§3.1: no code then). */
  abstract readonly code: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'insufficient_scope' | 'temporarily_unavailable' | undefined;
  abstract readonly status: 400 | 401 | 403 | 503;
  /** The challenge scheme this error is answered with. Set by `authorizeRequest` from the request and the verifier's DPoP settings. */
  challenge: Challenge = { scheme: 'Bearer' };
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
  | 'inactive'
  /** A DPoP-bound token (with `cnf.jkt`) sent without a proof, as a bearer token (RFC 9449 §7.2). */
  | 'dpop_bound'
  /** A token sent with `Authorization: DPoP` that is not bound to a key, or one bound to another key than the proof's (RFC 9449 §7.1). */
  | 'wrong_dpop_key'
  /** A bearer token at an API that accepts only DPoP-bound tokens. */
  | 'dpop_required';

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

/**
 * The `DPoP` proof of a request is missing, malformed, not signed by its embedded key, or not
 * for this request (`htm`, `htu`, `ath`), too old or replayed (RFC 9449 §7.1
 * `invalid_dpop_proof`, 401). `reason` names the failed check.
 */
export class InvalidDPoPProofError extends BearerError {
  override name = 'InvalidDPoPProofError';
  readonly code = 'invalid_dpop_proof';
  readonly status = 401;
  constructor(
    readonly reason: DPoPProofReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Which check of RFC 9449 §4.3 a DPoP proof failed (for logs). */
export type DPoPProofReason = 'missing' | 'malformed' | 'bad_signature' | 'algorithm_not_allowed' | 'wrong_method' | 'wrong_url' | 'wrong_token_hash' | 'too_old' | 'replayed';

/**
 * The token is valid but lacks a required permission (RFC 6750 §3.1 `insufficient_scope`, 403):
 * one of `required` when all are required, or every one of them when any one would do.
 */
export class InsufficientScopeError extends BearerError {
  override name = 'InsufficientScopeError';
  readonly code = 'insufficient_scope';
  readonly status = 403;
  constructor(
    /** Every permission the route requires (all of them, or any one with `anyOf`). */
    readonly required: readonly string[],
    /** The required ones the token does not carry. */
    readonly missing: readonly string[],
    /** Whether any one of `required` would have been enough. */
    readonly anyOf = false,
  ) {
    super(anyOf ? `The access token holds none of the permissions ${required.join(', ')}.` : `The access token lacks the permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
  }
  override challengeParams(): Record<string, string> {
    // RFC 6750 §3: `scope` lists the scope needed, all of it; alternatives cannot be said there (the description names them).
    return this.anyOf ? {} : { scope: this.required.join(' ') };
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
