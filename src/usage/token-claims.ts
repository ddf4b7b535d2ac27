import { InvalidInputError } from '../errors/domain-errors.js';
import type { TokenClaims } from '../wire/management.js';

/**
 * Names a client's `token_claims` may not use: every claim the access token defines
 * (docs/http-api.md §2 "Access token", RFC 9068 §2.2) and the registered JWT claims
 * (RFC 7519 §4.1), plus those of the profiles an API may check (RFC 9449 `cnf`, OIDC `azp`,
 * `auth_time`, `acr`, `amr`, RFC 8693 `act`, `may_act`). A custom claim adds; it never replaces.
 */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'org_id',
  'scope',
  'roles',
  'cnf',
  'azp',
  'auth_time',
  'acr',
  'amr',
  'act',
  'may_act',
  'groups',
  'entitlements',
]);

/** At most this many bytes as JSON, so that a token stays small enough for a header. */
const MAX_CLAIMS_BYTES = 2048;

/** `claims` if they may go into the client's tokens; else an InvalidInputError naming each reserved name. */
export function checkTokenClaims(claims: TokenClaims): TokenClaims {
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw new InvalidInputError(
      `token_claims may not use ${reserved.map((n) => `"${n}"`).join(', ')}: the access token defines ${reserved.length === 1 ? 'it' : 'them'}.`,
      reserved.map((name) => ({ path: ['token_claims', name], message: 'a claim the access token defines' })),
    );
  }
  if (Buffer.byteLength(JSON.stringify(claims)) > MAX_CLAIMS_BYTES) {
    throw new InvalidInputError(`token_claims are at most ${MAX_CLAIMS_BYTES} bytes as JSON.`, [{ path: ['token_claims'], message: `more than ${MAX_CLAIMS_BYTES} bytes` }]);
  }
  return claims;
}
