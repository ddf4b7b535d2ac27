import type { CatalogSnapshot } from '../../catalog/catalog.js';
import type { Clock } from '../../clock.js';
import { InvalidRequestError, InvalidScopeError, InvalidTargetError } from '../../errors/oauth-error.js';
import type { KeyRing } from '../../keys/key-ring.js';
import { accessTokenClaims, signAccessToken } from '../../tokens/access-token.js';
import type { GrantHandler } from './grant.js';

export interface ClientCredentialsDeps {
  issuer: string;
  defaultTtl: number;
  clock: Clock;
  catalog: () => CatalogSnapshot;
  keys: () => KeyRing;
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * The client credentials grant (RFC 6749 §4.4) for one API, named by `audience` or
 * its RFC 8707 synonym `resource`. The token carries the permissions the client's
 * roles grant on that API, or the requested subset of them (`scope`).
 */
export function clientCredentialsGrant(deps: ClientCredentialsDeps): GrantHandler {
  return async ({ grant }, params) => {
    const audience = requestedAudience(params);
    const catalog = deps.catalog();
    const api = catalog.apiByIdentifier(audience);
    const held = api ? catalog.permissionsOn(api, grant.roles) : [];
    if (!api || held.length === 0) {
      throw new InvalidTargetError(
        'The audience is not a registered API, or this client holds no permission on it.',
        api ? 'client holds no permission on the audience' : 'unknown audience',
      );
    }
    const scope = grantedScope(params.scope, held);
    const now = deps.clock.now();
    const ttl = api.accessTokenTtl ?? deps.defaultTtl;
    const claims = accessTokenClaims({
      issuer: deps.issuer,
      clientId: grant.clientId,
      orgId: grant.orgId,
      audience: api.identifier,
      scope,
      roles: grant.roles,
      ttlSeconds: ttl,
      now,
    });
    return { access_token: await signAccessToken(deps.keys(), claims, now), token_type: 'Bearer', expires_in: ttl, scope: claims.scope };
  };
}

function requestedAudience(params: { audience?: string | undefined; resource?: string | undefined }): string {
  const { audience, resource } = params;
  if (audience !== undefined && resource !== undefined && audience !== resource) {
    throw new InvalidRequestError('audience and resource name different APIs; send one of them.');
  }
  const target = audience ?? resource;
  if (target === undefined || target === '') throw new InvalidRequestError('audience (or resource) is required: the identifier of the API the token is for.');
  return target;
}

/** The requested scope if every part is held, or everything held when no scope is asked for. */
function grantedScope(requested: string | undefined, held: string[]): string[] {
  const asked = (requested ?? '').split(' ').filter((s) => s !== '');
  if (asked.length === 0) return held;
  const malformed = asked.filter((s) => !SCOPE_TOKEN.test(s));
  if (malformed.length > 0) throw new InvalidScopeError('scope is malformed: space-separated permission values expected.');
  const wanted = new Set(asked);
  const missing = [...wanted].filter((s) => !held.includes(s));
  if (missing.length > 0) throw new InvalidScopeError(`The client does not hold: ${missing.join(', ')}.`);
  return held.filter((p) => wanted.has(p));
}
