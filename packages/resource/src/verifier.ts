import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTPayload, type RemoteJWKSet } from 'jose';
import { DPoPProofChecker, type DPoPOptions, type DPoPPresentation } from './dpop.js';
import { InvalidTokenError, VerifierUnavailableError, type BearerError } from './errors.js';
import { introspect, type IntrospectionOptions } from './introspection.js';
import { fetchIssuerMetadata, type FetchLike, type IssuerMetadata } from './issuer-metadata.js';

export interface VerifierOptions {
  /** The Portcullis issuer (exactly the tokens' `iss`), e.g. `https://auth.example.com`. */
  issuer: string;
  /** This API's identifier, as registered in Portcullis: tokens must carry it in `aud`. */
  audience: string;
  /** Signature algorithms accepted. Default `['ES256', 'RS256', 'EdDSA']`: asymmetric only, never `none` or HMAC. */
  algorithms?: readonly string[];
  /** Leeway for `exp` and `nbf` against this machine's clock. Default 5 seconds. */
  clockToleranceSeconds?: number;
  /** Use this key set URL instead of the metadata's `jwks_uri` (skips discovery unless introspecting). */
  jwksUri?: string;
  /** How long fetched keys are used before they are fetched again. Default 600 seconds. */
  jwksCacheMaxAgeSeconds?: number;
  /**
   * After a fetch, a token with an unknown `kid` does not trigger another for this long. Default 5 seconds:
   * after an emergency key rotation (`portcullis keys rotate --now`) new tokens are refused for at most
   * this long, and tokens with made-up kids cost the issuer at most one JWKS request per period.
   */
  jwksCooldownSeconds?: number;
  /** Per HTTP request to the issuer. Default 5000 ms. */
  timeoutMs?: number;
  /** Also ask the issuer whether each token is still active (RFC 7662), to see revocations at once. */
  introspection?: IntrospectionOptions;
  /** The `realm` of the `WWW-Authenticate` challenges the guards send. Default: none. */
  realm?: string;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** DPoP (RFC 9449): require it, and how proofs are checked. DPoP-bound tokens are verified with or without this. */
  dpop?: DPoPOptions;
}

/** The claims of a Portcullis access token (RFC 9068 §2.2, plus `org_id` and `roles`). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  org_id?: string;
  roles?: string[];
  /** RFC 9449 §6.1: the thumbprint of the key a DPoP-bound token is bound to. */
  cnf?: { jkt?: string };
}

/** A token that passed every check `verify` makes. */
export interface VerifiedAccessToken {
  /** The client the token was issued to (`client_id`, equal to `sub` for client-credentials tokens). */
  clientId: string;
  /** The organization of that client (`org_id`): scope your data by it in a multi-tenant API. */
  organizationId: string | undefined;
  /** The permissions granted (`scope`, split on spaces). */
  permissions: readonly string[];
  /** The role ids the permissions came from (`roles`). */
  roles: readonly string[];
  expiresAt: Date;
  /** For a DPoP-bound token: the JWK thumbprint (RFC 7638) of its key, which signed the request's proof. */
  dpopKeyThumbprint: string | undefined;
  /** Every claim, as signed. */
  claims: AccessTokenClaims;
}

export interface AccessTokenVerifier {
  /**
   * Verifies a Portcullis access token for this API. Resolves with the token's facts, or rejects
   * with an `InvalidTokenError` (401 material; `reason` says which check failed) or a
   * `VerifierUnavailableError` (the issuer's keys or introspection could not be reached: 503 material).
   *
   * **Checked** (RFC 9068 §4, RFC 8725):
   * - the token is a compact JWS whose header `typ` is `at+jwt` (or `application/at+jwt`);
   * - its `alg` is on the allow-list (default `ES256`, `RS256`, `EdDSA`: never `none`, never HMAC);
   * - its signature verifies with the key named by `kid` in the issuer's JWKS. The JWKS URL comes
   *   from the issuer's RFC 8414 metadata, which must name the same issuer. Keys are cached
   *   (`jwksCacheMaxAgeSeconds`); an unknown `kid` triggers one refetch, at most once per
   *   `jwksCooldownSeconds`, so a key rotation on the server is picked up without a restart;
   * - `iss` is exactly the configured issuer, and `aud` is (or contains) the configured audience;
   * - `exp` is in the future and `nbf`, if present, in the past, with `clockToleranceSeconds` of leeway;
   * - the claims RFC 9068 §2.2 requires are present: `iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `client_id`;
   * - DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only with `dpop`, the
   *   request's proof, which must pass every check of `DPoPProofChecker.check` (signature by its
   *   embedded public key, `htm`, `htu`, `ath`, `iat` window, `jti` not replayed, key thumbprint =
   *   `cnf.jkt`); a token without `cnf` is refused with `dpop` (it is not bound), and without
   *   `dpop` when the verifier's `dpop.required` is set;
   * - with `introspection` set, after all of the above: the issuer says the token is active (RFC 7662).
   *
   * **Not checked**:
   * - permissions: use `requirePermissions` (Fastify, Express) or `checkPermissions`;
   * - revocation, without `introspection`: a revoked token, or one of a since-deleted client,
   *   stays valid here until its `exp` (keep token lifetimes short, or turn introspection on);
   * - the organization: a token of any organization holding permissions on this API passes;
   *   a multi-tenant API must scope its data by `organizationId`;
   * - the access token's `iat` against the clock, and its `jti` replay (bearer tokens are reusable by design;
   *   a DPoP proof's `jti` is checked, in this process only);
   * - a DPoP `nonce` (RFC 9449 §9): this verifier issues none;
   * - mTLS sender constraint (RFC 8705).
   */
  verify(token: string, dpop?: DPoPPresentation): Promise<VerifiedAccessToken>;
  readonly issuer: string;
  readonly audience: string;
  readonly realm: string | undefined;
  /** The DPoP settings the guards answer with (`algs` of challenges; whether a bearer token is refused). */
  readonly dpop: { readonly required: boolean; readonly algorithms: readonly string[]; readonly origin: string | undefined };
}

const DEFAULT_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'];

interface ResolvedIssuer {
  metadata: IssuerMetadata | undefined;
  keys: RemoteJWKSet;
}

/**
 * Metadata and key sets, shared by every verifier of the process with the same settings, so
 * that `verifyAccessToken` called per request, and many guards on one API, fetch keys once.
 */
const resolvedIssuers = new WeakMap<FetchLike, Map<string, Promise<ResolvedIssuer>>>();
const defaultFetch: FetchLike = (input, init) => globalThis.fetch(input, init);

/** Creates a verifier for one API. Nothing is fetched until the first `verify`. */
export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  for (const name of ['issuer', 'audience'] as const) {
    if (typeof options[name] !== 'string' || options[name] === '') throw new TypeError(`createAccessTokenVerifier: ${name} is required.`);
  }
  const fetchImpl = options.fetch ?? defaultFetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  if (algorithms.some((alg) => alg === 'none' || alg.startsWith('HS'))) throw new TypeError('createAccessTokenVerifier: only asymmetric algorithms can verify tokens issued by a server.');
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  const proofs = new DPoPProofChecker(options.dpop ?? {}, clockTolerance);
  const needMetadata = options.jwksUri === undefined || (options.introspection !== undefined && options.introspection.endpoint === undefined);

  const resolve = (): Promise<ResolvedIssuer> => {
    const key = JSON.stringify([options.issuer, options.jwksUri, needMetadata, options.jwksCacheMaxAgeSeconds, options.jwksCooldownSeconds, timeoutMs]);
    const cache = resolvedIssuers.get(fetchImpl) ?? new Map<string, Promise<ResolvedIssuer>>();
    resolvedIssuers.set(fetchImpl, cache);
    let resolved = cache.get(key);
    if (!resolved) {
      resolved = (async () => {
        const metadata = needMetadata ? await fetchIssuerMetadata(options.issuer, fetchImpl, timeoutMs) : undefined;
        const jwksUri = options.jwksUri ?? metadata?.jwks_uri ?? '';
        const keys = createRemoteJWKSet(new URL(jwksUri), {
          timeoutDuration: timeoutMs,
          cacheMaxAge: (options.jwksCacheMaxAgeSeconds ?? 600) * 1000,
          cooldownDuration: (options.jwksCooldownSeconds ?? 5) * 1000,
          [customFetch]: (url, init) => fetchImpl(url, init),
        });
        return { metadata, keys };
      })();
      cache.set(key, resolved);
      // A failed discovery is not remembered: the next verification tries again.
      resolved.catch(() => cache.delete(key));
    }
    return resolved;
  };

  const verify = async (token: string, dpop?: DPoPPresentation): Promise<VerifiedAccessToken> => {
    const { metadata, keys } = await resolve();
    const getKey = async (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
      try {
        return await keys(header, input);
      } catch (err) {
        if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys || err instanceof joseErrors.JOSENotSupported) throw err;
        throw new VerifierUnavailableError(`Could not fetch the issuer's signing keys: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        algorithms,
        clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
      }));
    } catch (err) {
      throw asBearerError(err);
    }
    const claims = payload as AccessTokenClaims;
    if (typeof claims.client_id !== 'string' || claims.client_id === '') throw new InvalidTokenError('missing_claim', 'The access token has no client_id claim.');
    if (claims.scope !== undefined && typeof claims.scope !== 'string') throw new InvalidTokenError('malformed', 'The access token scope claim is not a string.');
    const jkt = claims.cnf?.jkt;
    if (jkt !== undefined && typeof jkt !== 'string') throw new InvalidTokenError('malformed', 'The access token cnf claim is invalid.');
    if (dpop) {
      if (jkt === undefined) throw new InvalidTokenError('wrong_dpop_key', 'The access token is not bound to a DPoP key: send it as a Bearer token.');
      await proofs.check(dpop, token, jkt, options.dpop?.origin);
    } else if (jkt !== undefined) {
      // RFC 9449 §7.2: a bound token must not be accepted as a bearer token, or its theft would be worth something.
      throw new InvalidTokenError('dpop_bound', 'The access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof.');
    } else if (proofs.required) {
      throw new InvalidTokenError('dpop_required', 'This API accepts only DPoP-bound access tokens.');
    }
    if (options.introspection) await introspect(token, options.introspection, metadata, options.issuer, fetchImpl, timeoutMs);
    return {
      clientId: claims.client_id,
      organizationId: typeof claims.org_id === 'string' ? claims.org_id : undefined,
      permissions: (claims.scope ?? '').split(' ').filter(Boolean),
      roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
      expiresAt: new Date(claims.exp * 1000),
      dpopKeyThumbprint: jkt,
      claims,
    };
  };

  return {
    verify,
    issuer: options.issuer,
    audience: options.audience,
    realm: options.realm,
    dpop: { required: proofs.required, algorithms: proofs.algorithms, origin: options.dpop?.origin },
  };
}

/**
 * Verifies one token: `createAccessTokenVerifier(options).verify(token, dpop)`. Key sets are shared
 * per issuer across calls, so calling this per request is fine; but a DPoP proof's `jti` is
 * remembered only by one verifier, so an API taking DPoP tokens should keep one
 * (`createAccessTokenVerifier`) to refuse replayed proofs. See `AccessTokenVerifier.verify`
 * for exactly what is and is not checked.
 */
export function verifyAccessToken(token: string, options: VerifierOptions, dpop?: DPoPPresentation): Promise<VerifiedAccessToken> {
  return createAccessTokenVerifier(options).verify(token, dpop);
}

/** jose's verdicts as RFC 6750 errors; anything unexpected is passed through. */
function asBearerError(err: unknown): BearerError | unknown {
  if (err instanceof VerifierUnavailableError || err instanceof InvalidTokenError) return err;
  const invalid = (reason: ConstructorParameters<typeof InvalidTokenError>[0], message: string) => new InvalidTokenError(reason, message, { cause: err });
  if (err instanceof joseErrors.JWTExpired) return invalid('expired', 'The access token has expired.');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return invalid('missing_claim', `The access token has no ${err.claim} claim.`);
    switch (err.claim) {
      case 'iss':
        return invalid('wrong_issuer', 'The access token was issued by another issuer.');
      case 'aud':
        return invalid('wrong_audience', 'The access token is not for this API.');
      case 'nbf':
        return invalid('not_yet_valid', 'The access token is not valid yet.');
      case 'typ':
        return invalid('wrong_type', 'The token is not an access token (typ at+jwt).');
      default:
        return invalid('malformed', `The access token's ${err.claim} claim is invalid.`);
    }
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid('unknown_key', 'The access token was signed with a key the issuer does not publish.');
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return invalid('unknown_key', 'The access token names no single key of the issuer.');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('bad_signature', 'The access token signature is invalid.');
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return invalid('algorithm_not_allowed', 'The access token is signed with an algorithm this API does not accept.');
  if (err instanceof joseErrors.JOSEError) return invalid('malformed', 'The access token is malformed.');
  return err;
}
