import { type BearerError, InsufficientScopeError, InvalidRequestError, MissingTokenError } from './errors.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js';

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The token of an `Authorization: Bearer` header (RFC 6750 §2.1, the only method accepted:
 * tokens in the query string or form body, §2.2–2.3, are not). Throws `MissingTokenError`
 * when there is no header or it uses another scheme, `InvalidRequestError` when it is malformed.
 */
export function bearerToken(authorization: string | readonly string[] | undefined): string {
  if (Array.isArray(authorization)) throw new InvalidRequestError('Send exactly one Authorization header.');
  const header = (authorization as string | undefined)?.trim();
  if (!header) throw new MissingTokenError();
  const match = BEARER.exec(header);
  if (match?.[1]) return match[1];
  if (/^Bearer\b/i.test(header)) throw new InvalidRequestError('The Authorization: Bearer header is malformed.');
  throw new MissingTokenError();
}

/** Throws `InsufficientScopeError` unless the token carries every one of `required`. */
export function checkPermissions(token: VerifiedAccessToken, required: readonly string[]): void {
  const held = new Set(token.permissions);
  const missing = required.filter((p) => !held.has(p));
  if (missing.length > 0) throw new InsufficientScopeError(required, missing);
}

/** Header → verified token holding `required`, or a `BearerError`: what both framework guards do. */
export async function authorizeRequest(verifier: AccessTokenVerifier, authorization: string | readonly string[] | undefined, required: readonly string[]): Promise<VerifiedAccessToken> {
  const token = await verifier.verify(bearerToken(authorization));
  checkPermissions(token, required);
  return token;
}

export interface BearerErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * The answer RFC 6750 §3 prescribes for `err`: the status, a `WWW-Authenticate: Bearer`
 * challenge carrying the error code (none for a request without a token), description and,
 * for `insufficient_scope`, the scope required; and a JSON body with the same `error` and
 * `error_description` (for a missing token, `error: "unauthorized"`).
 */
export function bearerErrorResponse(err: BearerError, realm?: string): BearerErrorResponse {
  const description = err.message;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (err.status === 401 || err.status === 403 || err.status === 400) {
    const params: Record<string, string> = {
      ...(realm !== undefined ? { realm } : {}),
      ...(err.code !== undefined ? { error: err.code, error_description: description } : {}),
      ...err.challengeParams(),
    };
    const rendered = Object.entries(params).map(([k, v]) => `${k}="${quotable(v)}"`);
    headers['www-authenticate'] = rendered.length > 0 ? `Bearer ${rendered.join(', ')}` : 'Bearer';
  }
  if (err.status === 503) headers['retry-after'] = '5';
  return { status: err.status, headers, body: { error: err.code ?? 'unauthorized', error_description: description } };
}

/** RFC 6750 §3: attribute values are %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash, ASCII). */
function quotable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
}
