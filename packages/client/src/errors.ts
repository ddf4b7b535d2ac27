/**
 * Errors a token source throws. Every one has a stable `code` to branch on; `OAuthError.code`
 * is the server's own RFC 6749 §5.2 `error` value.
 *
 * ```ts
 * try {
 *   await tokens.getToken();
 * } catch (err) {
 *   if (err instanceof OAuthError && err.code === 'invalid_client') alertOperator('client secret rejected');
 *   else throw err;
 * }
 * ```
 */
export abstract class PortcullisClientError extends Error {
  abstract readonly code: string;
  /** Whether the same request may succeed later without any change (network trouble, 5xx, 429). */
  abstract readonly transient: boolean;
}

/** The `error` values of RFC 6749 §5.2 and RFC 8707 §2, plus whatever else a server sends. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'too_many_requests'
  | (string & {});

/**
 * The token endpoint answered with an OAuth error (RFC 6749 §5.2), for example
 * `invalid_client` (wrong or rotated-away secret, deleted client), `invalid_target`
 * (unknown audience, or no permission on it) or `invalid_scope`.
 */
export class OAuthError extends PortcullisClientError {
  override name = 'OAuthError';
  readonly code: OAuthErrorCode;
  readonly transient: boolean;

  constructor(
    code: OAuthErrorCode,
    /** The server's `error_description`, meant for developers. */
    readonly description: string | undefined,
    /** The HTTP status of the answer. */
    readonly status: number,
    /** Seconds the server asked us to wait (`Retry-After`), when it did. */
    readonly retryAfterSeconds?: number,
  ) {
    super(description ? `${code}: ${description}` : code);
    this.code = code;
    this.transient = status >= 500 || status === 429;
  }
}

export type TransportErrorCode = 'network_error' | 'timeout' | 'http_error' | 'invalid_response';

/**
 * The server could not be reached, did not answer in time, or answered with something
 * that is not OAuth (an HTML error page from a proxy, malformed JSON). `cause` holds the
 * underlying error where there is one.
 */
export class TransportError extends PortcullisClientError {
  override name = 'TransportError';
  readonly transient: boolean;
  /** Seconds the server asked us to wait (`Retry-After`), when it did. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    /** The HTTP status, for `http_error` and `invalid_response`. */
    readonly status?: number,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.transient = code === 'network_error' || code === 'timeout' || (status !== undefined && (status >= 500 || status === 429));
  }
}

/**
 * The authorization server's metadata (RFC 8414) is missing, malformed, or names a
 * different issuer than the one configured (§3.3: the metadata must be rejected then).
 */
export class DiscoveryError extends PortcullisClientError {
  override name = 'DiscoveryError';
  readonly code = 'discovery_failed';
  readonly transient = false;
}
