/**
 * Whether `err` says the database cannot be reached right now (refused, reset, timed out,
 * shutting down), as opposed to a query that is wrong. Such a request is answered 503 with
 * `Retry-After`, never 500: the client should try again, and a load balancer may route
 * elsewhere. Codes are node's socket errors and PostgreSQL's classes 08 (connection
 * exception) and 57P (operator intervention: shutdown, crash, cannot connect now).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) return true;
  return UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(err.message)) || (err.cause !== undefined && err.cause !== err && isDatabaseUnavailable(err.cause));
}

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** What the `pg` driver says when it gives up waiting, or when the server went away mid-query. */
const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated/i,
  /Query read timeout/i,
  /Client has encountered a connection error/i,
  /canceling statement due to statement timeout/i,
];
