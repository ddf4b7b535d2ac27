/**
 * What the domain and the store raise when a request cannot be carried out. They know
 * nothing of HTTP: no status, no request part. The HTTP edge (src/http/error-handler.ts)
 * maps each to the error family of the route it happened on: the management API's
 * `{error, message, details}` or the OAuth endpoints' RFC 6749 §5.2 answer.
 */
export abstract class DomainError extends Error {}

/** A field of the caller's input that is wrong, by its path inside that input (`['roles', 0]`). */
export interface InputIssue {
  path: readonly (string | number)[];
  message: string;
}

/** The thing asked for does not exist, or not for this caller's organization (which must look the same). */
export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(readonly what: string) {
    super(`${what} not found.`);
  }
}

/** The change contradicts what is stored: a duplicate, the last admin, a built-in entry. */
export class ConflictError extends DomainError {
  override name = 'ConflictError';
}

/** Input that passed the schema but breaks a rule of the domain (an unknown role, a short password). */
export class InvalidInputError extends DomainError {
  override name = 'InvalidInputError';
  constructor(
    message: string,
    readonly issues: readonly InputIssue[] = [],
    /** Which part of the request the issues' paths are in. */
    readonly part: 'body' | 'querystring' = 'body',
  ) {
    super(message);
  }
}

/** A page cursor this server did not make (forged, truncated, or from another list). */
export class InvalidCursorError extends DomainError {
  override name = 'InvalidCursorError';
  constructor() {
    super('Invalid cursor.');
  }
}

/** A sign-in whose email or password is wrong; the message never says which. */
export class AuthenticationFailedError extends DomainError {
  override name = 'AuthenticationFailedError';
}

/** Something the request needs besides the database cannot be reached now (the mail relay): retry later. */
export class UnavailableError extends DomainError {
  override name = 'UnavailableError';
}

/** Too many failed attempts for this key or address: refused until the window has passed. */
export class ThrottledError extends DomainError {
  override name = 'ThrottledError';
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed attempts; retry later.');
  }
}
