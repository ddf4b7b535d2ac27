/**
 * Errors of the management API (API.md §3): `{error, message, details?}`.
 * The OAuth endpoints use OAuthError instead; both are serialized in one place
 * (src/http/error-handler.ts).
 */
export interface ErrorDetail {
  /** The bad field, as a JSON pointer into the request part (`/body/roles/0`). */
  field: string;
  message: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }
}

export class InvalidRequest extends ApiError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('invalid_request', message, 400, details);
  }
}
export class Unauthenticated extends ApiError {
  constructor(message = 'Sign in or send a bearer token.') {
    super('unauthenticated', message, 401);
  }
}
export class Forbidden extends ApiError {
  constructor(message = 'You may not do this.') {
    super('forbidden', message, 403);
  }
}
export class NotFound extends ApiError {
  constructor(what: string) {
    super('not_found', `${what} not found.`, 404);
  }
}
export class Conflict extends ApiError {
  constructor(message: string) {
    super('conflict', message, 409);
  }
}
export class RateLimited extends ApiError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', 'Too many requests; retry later.', 429);
  }
}
