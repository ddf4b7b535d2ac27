import { InvalidRequestError, InvalidTargetError } from '../../errors/oauth-error.js';
import type { RefreshTokenService } from '../../tokens/refresh-tokens.js';
import { issueAccessToken, narrowScope, parseScope, type IssuerDeps } from './access-token-issuer.js';
import type { GrantHandler, TokenResponse } from './grant.js';

/**
 * The client credentials grant (RFC 6749 §4.4) for one API, named by `audience` or
 * its RFC 8707 synonym `resource`. The token carries the permissions the client's
 * roles grant on that API, or the requested subset of them (`scope`). A client with
 * `refresh_tokens: true` also gets a refresh token that starts a new family.
 */
export function clientCredentialsGrant(deps: IssuerDeps & { refreshTokens: RefreshTokenService }): GrantHandler {
  return async ({ client }, params, jkt) => {
    const audience = requestedAudience(params);
    const catalog = deps.catalog();
    const api = catalog.apiByIdentifier(audience);
    const held = api ? catalog.permissionsOn(api, client.roles) : [];
    if (!api || held.length === 0) {
      throw new InvalidTargetError('The audience is not a registered API, or this client holds no permission on it.', api ? 'client holds no permission on the audience' : 'unknown audience');
    }
    const asked = parseScope(params.scope);
    let answer: TokenResponse = await issueAccessToken(deps, client, api, asked ? narrowScope(asked, held) : held, jkt);
    // The policy's refresh_tokens_allowed off: none issued, whatever the client's setting.
    if (client.refreshTokens && deps.policyOf(client.orgId).refresh_tokens_allowed) {
      // A family started with a proof is bound to that key (RFC 9449 §5). Written before the token is counted: a database down here answers 503, and nothing was issued.
      answer = { ...answer, refresh_token: await deps.refreshTokens.issue(client.clientId, api.identifier, asked, jkt ?? null) };
    }
    deps.onIssued(client, api.identifier, answer.expires_in);
    return answer;
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
