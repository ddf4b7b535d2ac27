import * as oauth from 'oauth4webapi';
import { TransportError } from './errors.js';
import type { FetchLike } from './http.js';
import { asClientError, transport } from './protocol.js';

/** A successful token answer (RFC 6749 §5.1). `token_type` is `Bearer`, or `DPoP` for a key-bound token (RFC 9449 §5). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
}

/** Everything one token request needs: the server, the client and how it authenticates, and its DPoP key. */
export interface TokenEndpoint {
  server: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
  dpop: oauth.DPoPHandle | undefined;
  fetch: FetchLike;
  timeoutMs: number;
}

export type Grant = { grant_type: 'client_credentials'; audience: string; scope?: string } | { grant_type: 'refresh_token'; refresh_token: string };

/**
 * One token request with oauth4webapi (RFC 6749 §4.4 or §6), with a DPoP proof when the
 * endpoint has a key (RFC 9449 §5). A server that asks for a DPoP nonce (`use_dpop_nonce`,
 * RFC 9449 §8) is asked once more with a proof carrying it. Answers the token, or throws
 * `OAuthError` for an RFC 6749 §5.2 error answer and `TransportError` for anything else.
 * Retrying transient failures is the caller's business.
 */
export async function requestToken(endpoint: TokenEndpoint, grant: Grant): Promise<TokenResponse> {
  const { server, client, auth, dpop } = endpoint;
  const options = { ...transport(endpoint.fetch, endpoint.timeoutMs), ...(dpop ? { DPoP: dpop } : {}) };
  const send = () => {
    if (grant.grant_type === 'refresh_token') return oauth.refreshTokenGrantRequest(server, client, auth, grant.refresh_token, options);
    const { grant_type: _, ...parameters } = grant;
    return oauth.clientCredentialsGrantRequest(server, client, auth, parameters, options);
  };
  for (let nonceRetry = false; ; nonceRetry = true) {
    try {
      const response = await send();
      const answer = grant.grant_type === 'refresh_token' ? await oauth.processRefreshTokenResponse(server, client, response) : await oauth.processClientCredentialsResponse(server, client, response);
      return shape(answer, endpoint);
    } catch (err) {
      // The handle has kept the nonce from the answer's DPoP-Nonce header: the next proof carries it.
      if (dpop && !nonceRetry && oauth.isDPoPNonceError(err)) continue;
      throw await asClientError(err, server.token_endpoint ?? server.issuer);
    }
  }
}

function shape(answer: oauth.TokenEndpointResponse, endpoint: TokenEndpoint): TokenResponse {
  // oauth4webapi has checked the types of every member, and lower-cased token_type (RFC 6749 §7.1: case-insensitive).
  const tokenType = answer.token_type === 'dpop' ? 'DPoP' : 'Bearer';
  if (tokenType === 'DPoP' && !endpoint.dpop) {
    throw new TransportError('invalid_response', `${endpoint.server.token_endpoint} answered a DPoP token to a request without a DPoP proof.`);
  }
  return {
    access_token: answer.access_token,
    token_type: tokenType,
    ...(answer.expires_in !== undefined && answer.expires_in > 0 ? { expires_in: answer.expires_in } : {}),
    ...(typeof answer.scope === 'string' ? { scope: answer.scope } : {}),
    ...(typeof answer.refresh_token === 'string' && answer.refresh_token !== '' ? { refresh_token: answer.refresh_token } : {}),
  };
}
