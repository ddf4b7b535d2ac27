import { CLIENT_SIGNING_ALGS } from '../clients/client-keys.js';

/**
 * Authorization server metadata (RFC 8414 §2), served at both well-known paths.
 * `response_types_supported` is required by RFC 8414 but there is no authorization
 * endpoint here, hence the empty list.
 */
export function authorizationServerMetadata(issuer: string, grantTypes: string[]): Record<string, unknown> {
  const auth = (endpoint: string) => ({
    [`${endpoint}_auth_methods_supported`]: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    [`${endpoint}_auth_signing_alg_values_supported`]: [...CLIENT_SIGNING_ALGS],
  });
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: grantTypes,
    response_types_supported: [],
    ...auth('token_endpoint'),
    introspection_endpoint: `${issuer}/oauth/introspect`,
    ...auth('introspection_endpoint'),
    revocation_endpoint: `${issuer}/oauth/revoke`,
    ...auth('revocation_endpoint'),
  };
}
