import type { CatalogApi, CatalogSnapshot } from '../../catalog/catalog.js';
import type { ClientSnapshot } from '../../clients/client-snapshots.js';
import type { Clock } from '../../clock.js';
import { InvalidScopeError } from '../../errors/oauth-error.js';
import type { KeyRing } from '../../keys/key-ring.js';
import { accessTokenClaims, signAccessToken } from '../../tokens/access-token.js';
import type { JwsSigner } from '../../tokens/jws-signer.js';
import type { Policy } from '../../wire/management.js';
import type { TokenResponse } from './grant.js';

export interface IssuerDeps {
  issuer: string;
  defaultTtl: number;
  clock: Clock;
  catalog: () => CatalogSnapshot;
  keys: () => KeyRing;
  signer: JwsSigner;
  /** The organization's policy (its max_access_token_ttl and refresh_tokens_allowed). */
  policyOf: (orgId: string) => Policy;
  /** Told of every token answered (usage counts; src/usage/token-meter.ts): by the grant, once all its writes are done, so that an answer that fails after signing is not counted. */
  onIssued: (client: ClientSnapshot, audience: string, ttlSeconds: number) => void;
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The scope parameter as a set of values, or null when absent or empty. Throws invalid_scope when malformed. */
export function parseScope(scope: string | undefined): string[] | null {
  if (scope === undefined) return null;
  const asked = [...new Set(scope.split(' ').filter((s) => s !== ''))];
  if (asked.length === 0) return null;
  if (asked.some((s) => !SCOPE_TOKEN.test(s))) throw new InvalidScopeError('scope is malformed: space-separated permission values expected.');
  return asked;
}

/** `wanted` if every value is in `allowed` (in `allowed`'s order), else invalid_scope naming what is not. */
export function narrowScope(wanted: string[], allowed: string[]): string[] {
  const missing = wanted.filter((s) => !allowed.includes(s));
  if (missing.length > 0) throw new InvalidScopeError(`The client does not hold: ${missing.join(', ')}.`);
  return allowed.filter((p) => wanted.includes(p));
}

/**
 * Signs an access token for `client` on `api` with `scope` (RFC 9068), bound to the DPoP key
 * `jkt` when given (RFC 9449 §6), and shapes the token answer. Not counted yet: the grant tells
 * `onIssued` once the answer is certain.
 */
export async function issueAccessToken(deps: IssuerDeps, client: ClientSnapshot, api: CatalogApi, scope: string[], jkt: string | undefined): Promise<TokenResponse> {
  const now = deps.clock.now();
  const cap = deps.policyOf(client.orgId).max_access_token_ttl;
  const wanted = api.accessTokenTtl ?? deps.defaultTtl;
  const ttl = cap !== null && cap < wanted ? cap : wanted;
  const claims = accessTokenClaims({
    issuer: deps.issuer,
    clientId: client.clientId,
    orgId: client.orgId,
    audience: api.identifier,
    scope,
    roles: client.roles,
    ttlSeconds: ttl,
    now,
    extra: client.tokenClaims,
    jkt,
  });
  return { access_token: await signAccessToken(deps.signer, deps.keys(), claims, now), token_type: jkt ? 'DPoP' : 'Bearer', expires_in: ttl, scope: claims.scope };
}
