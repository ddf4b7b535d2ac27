/**
 * Every `error` code the OAuth endpoints can send, with its statuses (RFC 6749 §5.2,
 * RFC 8707 §2, RFC 9449 §5 and §8; `too_many_requests`, `quota_exceeded` and `server_error` are ours). Checked against the
 * contract document and the OpenAPI document by a test.
 */
export const OAUTH_ERROR_CODES = {
  invalid_request: [400, 413],
  invalid_client: [401],
  invalid_grant: [400],
  unauthorized_client: [400],
  unsupported_grant_type: [400],
  invalid_scope: [400],
  invalid_target: [400],
  invalid_dpop_proof: [400],
  use_dpop_nonce: [400],
  too_many_requests: [429],
  quota_exceeded: [429],
  server_error: [500],
  temporarily_unavailable: [503],
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_CODES;

/**
 * Errors of the OAuth endpoints (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2).
 * Each carries the wire `error` code, its HTTP status, a description that is safe
 * to show the caller, and optionally a private `detail` that only goes to the log
 * (what really went wrong: unknown client vs. wrong secret, say).
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly detail?: string,
  ) {
    super(`${error}: ${description}`);
  }

  /** Extra response headers the error needs. */
  headers(): Record<string, string> {
    return {};
  }
}

/** RFC 6749 §5.2: a required parameter is missing, unsupported, repeated or malformed. */
export class InvalidRequestError extends OAuthError {
  constructor(description: string, detail?: string) {
    super('invalid_request', description, 400, detail);
  }
}

/**
 * RFC 6749 §5.2: client authentication failed. Always 401 with a `WWW-Authenticate: Basic`
 * challenge; the description never says whether the client exists (docs/http-api.md §2: an unknown
 * client, a wrong secret, a deleted client and a rotated-away secret answer alike).
 */
export class InvalidClientError extends OAuthError {
  static readonly realm = 'portcullis';
  constructor(detail?: string) {
    super('invalid_client', 'Client authentication failed.', 401, detail);
  }
  override headers(): Record<string, string> {
    return { 'www-authenticate': `Basic realm="${InvalidClientError.realm}", charset="UTF-8"` };
  }
}

/** RFC 6749 §5.2: the grant (a refresh token) is invalid, expired, revoked or another client's. */
export class InvalidGrantError extends OAuthError {
  constructor(description: string, detail?: string) {
    super('invalid_grant', description, 400, detail);
  }
}

/** RFC 6749 §5.2: the authenticated client may not use this grant type. */
export class UnauthorizedClientError extends OAuthError {
  constructor(description: string) {
    super('unauthorized_client', description, 400);
  }
}

/** RFC 6749 §5.2: the grant type is not supported by this server. */
export class UnsupportedGrantTypeError extends OAuthError {
  constructor(grantType: string) {
    super('unsupported_grant_type', `grant_type "${grantType}" is not supported.`, 400);
  }
}

/** RFC 6749 §5.2: the requested scope exceeds what the client holds. */
export class InvalidScopeError extends OAuthError {
  constructor(description: string) {
    super('invalid_scope', description, 400);
  }
}

/** RFC 8707 §2: the audience/resource is unknown or the client holds nothing on it. */
export class InvalidTargetError extends OAuthError {
  constructor(description: string, detail?: string) {
    super('invalid_target', description, 400, detail);
  }
}

/** RFC 9449 §5: the DPoP proof is missing (for a client that must send one), malformed or invalid. */
export class InvalidDpopProofError extends OAuthError {
  constructor(description: string, detail?: string) {
    super('invalid_dpop_proof', description, 400, detail);
  }
}

/** RFC 9449 §8: the proof must carry the server's nonce, which the `DPoP-Nonce` header gives. */
export class UseDpopNonceError extends OAuthError {
  constructor(private readonly nonce: string) {
    super('use_dpop_nonce', 'Send a DPoP proof with the nonce of the DPoP-Nonce header.', 400);
  }
  override headers(): Record<string, string> {
    return { 'dpop-nonce': this.nonce };
  }
}

/** RFC 6749 §4.1.2.1's `temporarily_unavailable`: the database cannot be reached; retry after `Retry-After`. */
export class TemporarilyUnavailableError extends OAuthError {
  constructor(readonly retryAfterSeconds: number) {
    super('temporarily_unavailable', 'The server cannot reach its database; retry later.', 503);
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(Math.max(1, Math.ceil(this.retryAfterSeconds))) };
  }
}

/** Throttled (too many requests or too many failed authentications): the OAuth face of a ThrottledError. */
export class TooManyRequestsError extends OAuthError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', 'Too many requests; retry later.', 429);
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(Math.max(1, Math.ceil(this.retryAfterSeconds))) };
  }
}
