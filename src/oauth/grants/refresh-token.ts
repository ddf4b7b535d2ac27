import { InvalidDpopProofError, InvalidGrantError, InvalidRequestError, UnauthorizedClientError } from '../../errors/oauth-error.js';
import type { RefreshTokenService } from '../../tokens/refresh-tokens.js';
import { issueAccessToken, narrowScope, parseScope, type IssuerDeps } from './access-token-issuer.js';
import type { GrantHandler } from './grant.js';

/**
 * The refresh token grant (RFC 6749 §6) for client-credentials clients that opted in.
 * The client authenticates as on every token request. The new access token reflects the
 * client's roles *now*: permissions it lost are gone, and a family that asked for no
 * particular scope gets everything it holds today. A requested `scope` must stay within
 * the family's original one. Every use rotates the refresh token. A family bound to a DPoP key
 * (RFC 9449 §5) needs a proof by that key: none is `invalid_dpop_proof`, another key `invalid_grant`.
 */
export function refreshTokenGrant(deps: IssuerDeps & { refreshTokens: RefreshTokenService }): GrantHandler {
  return async ({ client }, params, jkt) => {
    if (!client.refreshTokens) throw new UnauthorizedClientError('This client does not use refresh tokens (refresh_tokens is off).');
    if (!deps.policyOf(client.orgId).refresh_tokens_allowed) throw new UnauthorizedClientError("The organization's policy does not allow refresh tokens.");
    const token = params.refresh_token;
    if (token === undefined) throw new InvalidRequestError('refresh_token is required.');
    const asked = parseScope(params.scope);
    let scope: string[] = [];
    const { facts, next } = await deps.refreshTokens.rotate(token, client.clientId, (f) => {
      // Checked before the token is spent: a refused request leaves it usable.
      if (f.jkt !== null && jkt === undefined) throw new InvalidDpopProofError('This refresh token is bound to a DPoP key: send a DPoP proof signed with that key.');
      if (f.jkt !== null && jkt !== f.jkt)
        throw new InvalidGrantError('The refresh token is invalid, expired, revoked or was issued to another client.', 'DPoP proof by another key than the family is bound to');
      const catalog = deps.catalog();
      const api = catalog.apiByIdentifier(f.audience);
      const held = api ? catalog.permissionsOn(api, client.roles) : [];
      const family = f.scope ? held.filter((p) => f.scope?.includes(p)) : held;
      if (family.length === 0) throw new InvalidGrantError('The client no longer holds any permission on this API.', 'no permission left on the audience');
      scope = asked ? narrowScope(asked, f.scope ?? held).filter((p) => family.includes(p)) : family;
      if (scope.length === 0) throw new InvalidGrantError('The client no longer holds the requested permissions.', 'requested scope no longer held');
    });
    const api = deps.catalog().apiByIdentifier(facts.audience);
    if (!api) throw new InvalidGrantError('The refresh token is invalid, expired, revoked or was issued to another client.', 'audience vanished');
    const answer = { ...(await issueAccessToken(deps, client, api, scope, jkt)), refresh_token: next };
    deps.onIssued(client, api.identifier, answer.expires_in);
    return answer;
  };
}
