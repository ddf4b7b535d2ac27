/**
 * The management API's error family (docs/http-api.md §3.2): `{error, message, details?}`.
 * Every code it can send is declared here once, with its statuses; the OpenAPI document's
 * error schema and the contract document are checked against this list by a test.
 */
export const MANAGEMENT_ERROR_CODES = {
  invalid_request: [400, 415],
  unauthenticated: [401],
  forbidden: [403],
  not_found: [404],
  conflict: [409],
  payload_too_large: [413],
  rate_limited: [429],
  server_error: [500],
  unavailable: [503],
} as const;

export type ManagementErrorCode = keyof typeof MANAGEMENT_ERROR_CODES;

export interface ErrorDetail {
  /** The bad field, as a JSON pointer into the request part (`/body/roles/0`). */
  field: string;
  message: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: ManagementErrorCode,
    message: string,
    readonly status: number,
    readonly details?: ErrorDetail[],
    /** Seconds, for a `Retry-After` header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/**
 * Who is calling is unknown: no session, an ended one, or a bearer token that is not (or no
 * longer) valid. `challenge` is the `WWW-Authenticate` header (RFC 6750 §3) to send with it.
 */
export class Unauthenticated extends ApiError {
  constructor(
    message = 'Sign in or send a bearer token.',
    readonly challenge?: string,
  ) {
    super('unauthenticated', message, 401);
  }
}

/** The caller is known and may not do this (a member where an admin is needed, a token without the permission). */
export class Forbidden extends ApiError {
  constructor(message = 'You may not do this.') {
    super('forbidden', message, 403);
  }
}
