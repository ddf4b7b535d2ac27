import type { AuthenticatedClient } from '../client-authenticator.js';

/** The token endpoint's answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** Token request parameters (form or JSON body), each at most once. */
export type TokenParams = Readonly<Record<string, string | undefined>>;

/** One grant type: turns an authenticated client and its parameters into tokens. */
export type GrantHandler = (client: AuthenticatedClient, params: TokenParams) => Promise<TokenResponse>;
