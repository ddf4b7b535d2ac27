/**
 * `@portcullis/client`: access tokens for applications that call APIs protected by Portcullis
 * (or any OAuth 2.0 server with RFC 8414 metadata and the client credentials grant), on
 * oauth4webapi: client secrets or `private_key_jwt`, bearer or DPoP-bound tokens.
 *
 * ```ts
 * import { createAuthenticatedFetch, createTokenSource } from '@portcullis/client';
 *
 * const tokens = createTokenSource({ issuer, clientId, clientSecret, audience: 'https://meters.example.com/' });
 * const api = createAuthenticatedFetch(tokens);
 * const res = await api('https://meters.example.com/meters/m-1/readings');
 * ```
 * @packageDocumentation
 */
export { createTokenSource, type AccessToken, type GetTokenOptions, type TokenSource, type TokenSourceOptions } from './token-source.js';
export { createAuthenticatedFetch, type AuthenticatedFetchOptions } from './authenticated-fetch.js';
export { DiscoveryError, OAuthError, PortcullisClientError, TransportError, type OAuthErrorCode, type TransportErrorCode } from './errors.js';
export { discover, type AuthorizationServerMetadata } from './discovery.js';
export type { ClientAuthMethod, ClientPrivateKey } from './client-auth.js';
export type { TokenResponse } from './token-endpoint.js';
export type { FetchLike, RetryOptions } from './http.js';
