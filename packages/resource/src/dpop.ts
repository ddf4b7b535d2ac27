import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { InvalidDPoPProofError, InvalidTokenError } from './errors.js';

/** How DPoP (RFC 9449) is verified. Every verifier checks proofs; these settings tune how. */
export interface DPoPOptions {
  /** Accept only DPoP-bound tokens with a proof: a bearer token is refused (`dpop_required`). Default `false`. */
  required?: boolean;
  /** Proof signature algorithms accepted, announced in challenges as `algs`. Default `['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519']`. */
  algorithms?: readonly string[];
  /** How old a proof (its `iat`) may be, in seconds. Default 60; `clockToleranceSeconds` of leeway applies on both sides. */
  maxAgeSeconds?: number;
  /**
   * How many proof `jti`s are remembered to refuse replays, in this process. Default 100 000.
   * A `jti` is forgotten once its proof is too old to be accepted anyway; when the cache is
   * full, the oldest entries go first, so a flood of fresh proofs can make room for a replay.
   */
  replayCacheSize?: number;
  /**
   * The origin clients address this API at, e.g. `https://meters.example.com`, to compare with
   * the proofs' `htu` behind a proxy. Default: from the request (`Host`, and TLS or Express's `req.protocol`).
   */
  origin?: string;
}

/** A request's DPoP proof and what it must be bound to. */
export interface DPoPPresentation {
  /** The `DPoP` header (one: several are refused). */
  proof: string | readonly string[] | undefined;
  /** The request method. */
  method: string;
  /** The request URL as the client addressed it; query and fragment are ignored (RFC 9449 §4.3). */
  url: string;
}

export const DEFAULT_DPOP_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/**
 * Checks a DPoP proof against its request and access token, as RFC 9449 §4.3 and §7.1 say.
 * One instance per verifier: it holds the `jti` replay cache.
 */
export class DPoPProofChecker {
  readonly algorithms: string[];
  readonly required: boolean;
  private readonly maxAgeSeconds: number;
  private readonly capacity: number;
  /** jti → when its proof stops being acceptable (ms); insertion order is expiry order, near enough. */
  private readonly seen = new Map<string, number>();

  constructor(
    options: DPoPOptions,
    private readonly clockToleranceSeconds: number,
  ) {
    this.algorithms = [...(options.algorithms ?? DEFAULT_DPOP_ALGORITHMS)];
    if (this.algorithms.some((alg) => alg === 'none' || alg.startsWith('HS'))) throw new TypeError('createAccessTokenVerifier: DPoP proofs are signed with asymmetric keys only.');
    this.required = options.required ?? false;
    this.maxAgeSeconds = options.maxAgeSeconds ?? 60;
    this.capacity = options.replayCacheSize ?? 100_000;
  }

  /**
   * Verifies `presentation.proof` for `accessToken` bound to `jkt` (the token's `cnf.jkt`):
   * - exactly one proof, a JWS with `typ: dpop+jwt`, an allowed asymmetric `alg`, and a
   *   public `jwk` in its header that verifies its signature;
   * - `htm` is the request method and `htu` its URL (without query and fragment);
   * - `iat` within `maxAgeSeconds` in the past (and not in the future), with leeway;
   * - `ath` is base64url(SHA-256(access token));
   * - the JWK thumbprint (RFC 7638) of the proof key is `jkt`;
   * - its `jti` was not seen in an accepted proof within the proof lifetime (in this process).
   * Not checked: a server-provided `nonce` (this verifier sends none).
   */
  async check(presentation: DPoPPresentation, accessToken: string, jkt: string, origin: string | undefined): Promise<void> {
    const proof = singleProof(presentation.proof);
    let payload: JWTPayload;
    let jwk: Record<string, unknown>;
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: this.algorithms,
        maxTokenAge: this.maxAgeSeconds,
        clockTolerance: this.clockToleranceSeconds,
        requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk as Record<string, unknown>;
    } catch (err) {
      throw proofError(err);
    }
    if (payload.htm !== presentation.method.toUpperCase()) throw new InvalidDPoPProofError('wrong_method', 'The DPoP proof is for another HTTP method (htm).');
    if (typeof payload.htu !== 'string' || !sameTarget(payload.htu, presentation.url, origin)) throw new InvalidDPoPProofError('wrong_url', 'The DPoP proof is for another URL (htu).');
    if (payload.ath !== createHash('sha256').update(accessToken).digest('base64url')) throw new InvalidDPoPProofError('wrong_token_hash', 'The DPoP proof is not for this access token (ath).');
    if ((await calculateJwkThumbprint(jwk)) !== jkt) throw new InvalidTokenError('wrong_dpop_key', 'The access token is bound to another key than the DPoP proof.');
    this.remember(String(payload.jti));
  }

  private remember(jti: string): void {
    const now = Date.now();
    const until = this.seen.get(jti);
    if (until !== undefined && until > now) throw new InvalidDPoPProofError('replayed', 'The DPoP proof has been used before (jti).');
    this.seen.delete(jti);
    // Oldest first: drop what has expired, and make room when full.
    for (const [old, expires] of this.seen) {
      if (expires > now && this.seen.size < this.capacity) break;
      this.seen.delete(old);
    }
    this.seen.set(jti, now + (this.maxAgeSeconds + 2 * this.clockToleranceSeconds) * 1000);
  }
}

function singleProof(header: string | readonly string[] | undefined): string {
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  if (Array.isArray(header) && header.length > 1) throw new InvalidDPoPProofError('malformed', 'Send exactly one DPoP header.');
  const only = Array.isArray(header) ? header[0] : undefined;
  if (typeof only === 'string' && only.trim() !== '') return only.trim();
  throw new InvalidDPoPProofError('missing', 'A DPoP-bound access token needs a DPoP proof header.');
}

/** RFC 9449 §4.3 (item 9): `htu` names the request URL, without query and fragment; scheme and host compare as URLs do (RFC 3986 §6.2.2). */
function sameTarget(htu: string, requestUrl: string, origin: string | undefined): boolean {
  if (!URL.canParse(htu) || !URL.canParse(requestUrl)) return false;
  const claimed = new URL(htu);
  const actual = new URL(requestUrl);
  const actualOrigin = origin !== undefined ? new URL(origin).origin : actual.origin;
  return claimed.origin === actualOrigin && claimed.pathname === actual.pathname;
}

function proofError(err: unknown): unknown {
  if (err instanceof InvalidDPoPProofError) return err;
  const invalid = (reason: ConstructorParameters<typeof InvalidDPoPProofError>[0], message: string) => new InvalidDPoPProofError(reason, message, { cause: err });
  if (err instanceof joseErrors.JWTExpired) return invalid('too_old', 'The DPoP proof is too old (iat).');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iat') return invalid('too_old', 'The DPoP proof is issued in the future (iat).');
    if (err.claim === 'typ') return invalid('malformed', 'The DPoP proof is not of type dpop+jwt.');
    return invalid('malformed', `The DPoP proof has no valid ${err.claim} claim.`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('bad_signature', 'The DPoP proof signature is invalid.');
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return invalid('algorithm_not_allowed', 'The DPoP proof is signed with an algorithm this API does not accept.');
  if (err instanceof joseErrors.JOSEError || err instanceof TypeError) return invalid('malformed', 'The DPoP proof is malformed.');
  return err;
}
