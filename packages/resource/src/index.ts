/**
 * `@portcullis/resource`: verify Portcullis access tokens in an API. The framework guards are
 * in `@portcullis/resource/fastify` and `@portcullis/resource/express`.
 *
 * ```ts
 * import { createAccessTokenVerifier } from '@portcullis/resource';
 * import { requirePermissions } from '@portcullis/resource/fastify';
 *
 * const verifier = createAccessTokenVerifier({ issuer: 'https://auth.example.com', audience: 'https://meters.example.com/' });
 * app.get('/meters/:id/readings', { preHandler: requirePermissions(verifier, 'meters:read') }, handler);
 * ```
 * @packageDocumentation
 */
export {
  createAccessTokenVerifier,
  verifyAccessToken,
  type AccessTokenClaims,
  type AccessTokenVerifier,
  type VerifiedAccessToken,
  type VerifierOptions,
} from './verifier.js';
export {
  authorizeRequest,
  bearerErrorResponse,
  bearerToken,
  checkAnyPermission,
  checkPermissions,
  presentedToken,
  type BearerErrorResponse,
  type DPoPRequest,
  type PermissionRequirement,
  type PresentedToken,
} from './bearer.js';
export type { DPoPOptions, DPoPPresentation } from './dpop.js';
export {
  BearerError,
  InsufficientScopeError,
  InvalidDPoPProofError,
  InvalidRequestError,
  InvalidTokenError,
  MissingTokenError,
  VerifierUnavailableError,
  type Challenge,
  type DPoPProofReason,
  type InvalidTokenReason,
} from './errors.js';
export type { IntrospectionOptions } from './introspection.js';
export type { FetchLike } from './issuer-metadata.js';
