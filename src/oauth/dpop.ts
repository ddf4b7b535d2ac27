import { createHmac, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors, jwtVerify, type JWK } from 'jose';
import { CLIENT_SIGNING_ALGS } from '../clients/client-keys.js';
import { fromEpochSeconds, type Clock } from '../clock.js';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors/oauth-error.js';

/** How far a proof's `iat` may be from our clock, either way (RFC 9449 §4.3 step 11 leaves it to the server). */
export const DPOP_IAT_WINDOW_SECONDS = 60;

/** Records a used proof `jti` of the key `jkt` until `expiresAt`; false when it was used already. */
export type ProofJtiClaim = (jkt: string, jti: string, expiresAt: Date) => Promise<boolean>;

/** JWK members of a private or symmetric key (RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * Server-provided DPoP nonces (RFC 9449 §8), derived without state: an HMAC of the current time
 * window under a key every node derives from MASTER_KEY, so any node accepts what another gave.
 * A nonce is good for its window and the next (between one and two windows).
 */
export class DpopNonces {
  constructor(
    private readonly key: Buffer,
    private readonly clock: Clock,
    private readonly windowSeconds = 60,
  ) {}

  current(): string {
    return this.forWindow(this.window());
  }

  accepts(nonce: string): boolean {
    const given = Buffer.from(nonce);
    const now = this.window();
    return [now, now - 1].some((w) => {
      const expected = Buffer.from(this.forWindow(w));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  private window(): number {
    return Math.floor(this.clock.nowMs() / 1000 / this.windowSeconds);
  }

  private forWindow(window: number): string {
    return createHmac('sha256', this.key).update(`dpop-nonce:${window}`).digest('base64url');
  }
}

/**
 * Checks a DPoP proof at the token endpoint (RFC 9449 §4.3): one JWT with `typ: dpop+jwt`, an
 * asymmetric `alg` of CLIENT_SIGNING_ALGS, a `jwk` header holding a public key only, a valid
 * signature by that key (jose's EmbeddedJWK), `htm` = the method, `htu` = the endpoint URL
 * (ISSUER + path; query and fragment of the claim ignored), `iat` within DPOP_IAT_WINDOW_SECONDS,
 * a `jti` never seen before for that key (shared by every node through the database), and, with
 * nonces on, a current nonce. Returns the key's RFC 7638 thumbprint (`jkt`). Does not check `ath`
 * (no access token is presented at the token endpoint).
 */
export class DpopVerifier {
  constructor(
    private readonly claim: ProofJtiClaim,
    private readonly clock: Clock,
    readonly nonces: DpopNonces | undefined,
  ) {}

  async verify(proof: string, htm: string, htu: string): Promise<string> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw invalid('not a JWS');
    }
    if (header.typ !== 'dpop+jwt') throw invalid('typ must be dpop+jwt');
    if (typeof header.alg !== 'string' || !(CLIENT_SIGNING_ALGS as readonly string[]).includes(header.alg)) throw invalid(`alg must be one of ${CLIENT_SIGNING_ALGS.join(', ')}`);
    const jwk = header.jwk as Record<string, unknown> | undefined;
    if (typeof jwk !== 'object' || jwk === null) throw invalid('the jwk header is missing');
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalid('the jwk header must hold a public key only');
    const now = this.clock.now();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...CLIENT_SIGNING_ALGS], currentDate: now, requiredClaims: ['iat', 'jti', 'htm', 'htu'] }));
    } catch (err) {
      throw invalid(err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : 'malformed');
    }
    if (payload.htm !== htm) throw invalid(`htm must be ${htm}`);
    if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(htu)) throw invalid(`htu must be ${htu}`);
    const iat = payload.iat as number;
    if (Math.abs(iat - now.getTime() / 1000) > DPOP_IAT_WINDOW_SECONDS) throw invalid(`iat must be within ${DPOP_IAT_WINDOW_SECONDS} seconds of the server's time`);
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw invalid('jti must be a string of at most 256 characters');
    if (this.nonces && (typeof payload.nonce !== 'string' || !this.nonces.accepts(payload.nonce))) throw new UseDpopNonceError(this.nonces.current());
    const jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
    // Kept until the proof's iat leaves the window: after that it fails the iat check anyway.
    if (!(await this.claim(jkt, payload.jti, fromEpochSeconds(iat + DPOP_IAT_WINDOW_SECONDS + 1)))) throw invalid('the proof was used before (jti replayed)');
    return jkt;
  }
}

function invalid(why: string): InvalidDpopProofError {
  return new InvalidDpopProofError(`The DPoP proof is invalid: ${why}.`);
}

/** RFC 9449 §4.3 step 9: the `htu` claim compared without its query and fragment. */
function withoutQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '';
  }
}
