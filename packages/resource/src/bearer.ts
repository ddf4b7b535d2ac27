import type { DPoPPresentation } from './dpop.js';
import { BearerError, InsufficientScopeError, InvalidRequestError, MissingTokenError } from './errors.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js';

/** RFC 6750 §2.1 and RFC 9449 §7.1: `Bearer` or `DPoP` (any case), one or more spaces, a token68. */
const CREDENTIALS = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an Authorization header and the scheme it came with. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

/**
 * The token of an `Authorization: Bearer` (RFC 6750 §2.1) or `Authorization: DPoP` (RFC 9449
 * §7.1) header: the only methods accepted (tokens in the query string or form body, RFC 6750
 * §2.2–2.3, are not). Throws `MissingTokenError` when there is no header or it uses another
 * scheme, `InvalidRequestError` when it is malformed.
 */
export function presentedToken(authorization: string | readonly string[] | undefined): PresentedToken {
  if (Array.isArray(authorization)) throw new InvalidRequestError('Send exactly one Authorization header.');
  const header = (authorization as string | undefined)?.trim();
  if (!header) throw new MissingTokenError();
  const match = CREDENTIALS.exec(header);
  if (match?.[1] && match[2]) return { scheme: match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] };
  const scheme = /^(Bearer|DPoP)\b/i.exec(header)?.[1];
  if (scheme) throw new InvalidRequestError(`The Authorization: ${scheme} header is malformed.`);
  throw new MissingTokenError();
}

/** The token of an `Authorization: Bearer` header (RFC 6750 §2.1); see `presentedToken`, which also takes `DPoP`. */
export function bearerToken(authorization: string | readonly string[] | undefined): string {
  // Any other scheme, DPoP included, well-formed or not, is "no bearer token" (RFC 6750 §3.1).
  const header = typeof authorization === 'string' ? authorization.trim() : undefined;
  if (header !== undefined && !/^Bearer\b/i.test(header)) throw new MissingTokenError();
  return presentedToken(authorization).token;
}

/** Throws `InsufficientScopeError` unless the token carries every one of `required`. */
export function checkPermissions(token: VerifiedAccessToken, required: readonly string[]): void {
  const held = new Set(token.permissions);
  const missing = required.filter((p) => !held.has(p));
  if (missing.length > 0) throw new InsufficientScopeError(required, missing);
}

/** Throws `InsufficientScopeError` unless the token carries at least one of `anyOf` (none given: any token passes). */
export function checkAnyPermission(token: VerifiedAccessToken, anyOf: readonly string[]): void {
  const held = new Set(token.permissions);
  if (anyOf.length > 0 && !anyOf.some((p) => held.has(p))) throw new InsufficientScopeError(anyOf, anyOf, true);
}

/** What a route requires: every permission of a list, or any one of `anyOf`. */
export type PermissionRequirement = readonly string[] | { anyOf: readonly string[] };

/** The parts of a request besides `Authorization` that DPoP needs (RFC 9449 §4.3): its `DPoP` header, method and URL. */
export type DPoPRequest = DPoPPresentation;

/**
 * Header → verified token holding `required`, or a `BearerError`: what both framework guards do.
 * With `request` (its `DPoP` header, method and URL), `Authorization: DPoP` tokens are verified
 * with their proofs (RFC 9449 §7); without it, only bearer tokens can pass. Errors carry the
 * challenge to answer with (`challenge`): `DPoP` with the accepted `algs` for a request that
 * used DPoP, a DPoP-bound token sent as a bearer token, or an API that requires DPoP.
 */
export async function authorizeRequest(
  verifier: AccessTokenVerifier,
  authorization: string | readonly string[] | undefined,
  required: PermissionRequirement,
  request?: DPoPRequest,
): Promise<VerifiedAccessToken> {
  const dpop = verifier.dpop ?? { required: false, algorithms: [], origin: undefined };
  let presented: PresentedToken | undefined;
  try {
    presented = presentedToken(authorization);
    const token =
      presented.scheme === 'DPoP' ? await verifier.verify(presented.token, { proof: request?.proof, method: request?.method ?? '', url: request?.url ?? '' }) : await verifier.verify(presented.token);
    if (Array.isArray(required)) checkPermissions(token, required as readonly string[]);
    else checkAnyPermission(token, (required as { anyOf: readonly string[] }).anyOf);
    return token;
  } catch (err) {
    if (err instanceof BearerError) {
      const reason = (err as { reason?: string }).reason;
      const dpopChallenge = presented?.scheme === 'DPoP' || (presented === undefined && dpop.required) || reason === 'dpop_bound' || reason === 'dpop_required';
      if (dpopChallenge) err.challenge = { scheme: 'DPoP', algs: dpop.algorithms };
    }
    throw err;
  }
}

export interface BearerErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * The answer RFC 6750 §3 (RFC 9449 §7.1 for DPoP) prescribes for `err`: the status, a
 * `WWW-Authenticate` challenge in the error's scheme (`err.challenge`) carrying the error code
 * (none for a request without a token), description, for `insufficient_scope` the scope
 * required, and for DPoP the accepted `algs`; and a JSON body with the same `error` and
 * `error_description` (for a missing token, `error: "unauthorized"`).
 */
export function bearerErrorResponse(err: BearerError, realm?: string): BearerErrorResponse {
  const description = err.message;
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (err.status === 401 || err.status === 403 || err.status === 400) {
    const challenge = err.challenge ?? { scheme: 'Bearer' };
    const params: Record<string, string> = {
      ...(realm !== undefined ? { realm } : {}),
      ...(err.code !== undefined ? { error: err.code, error_description: description } : {}),
      ...err.challengeParams(),
      ...(challenge.scheme === 'DPoP' && challenge.algs.length > 0 ? { algs: challenge.algs.join(' ') } : {}),
    };
    const rendered = Object.entries(params).map(([k, v]) => `${k}="${quotable(v)}"`);
    headers['www-authenticate'] = rendered.length > 0 ? `${challenge.scheme} ${rendered.join(', ')}` : challenge.scheme;
  }
  if (err.status === 503) headers['retry-after'] = '5';
  return { status: err.status, headers, body: { error: err.code ?? 'unauthorized', error_description: description } };
}

/** RFC 6750 §3: attribute values are %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash, ASCII). */
function quotable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
}
