import type { AuthenticatedClient } from '../client-authenticator.js';

/** The token endpoint's answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` for a token bound to a DPoP key (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** Token request parameters (form or JSON body), each at most once. */
export type TokenParams = Readonly<Record<string, string | undefined>>;

/**
 * One grant type: turns an authenticated client and its parameters into tokens; `jkt` is the
 * thumbprint of the request's valid DPoP proof key (RFC 9449), undefined without a proof.
 */
export type GrantHandler = (client: AuthenticatedClient, params: TokenParams, jkt: string | undefined) => Promise<TokenResponse>;
