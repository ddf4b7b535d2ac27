import { errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import { CLIENT_SIGNING_ALGS } from '../clients/client-keys.js';
import type { ClientSnapshot } from '../clients/client-snapshots.js';
import { fromEpochSeconds, type Clock } from '../clock.js';

/** How far the client's clock may be from ours for `exp`, `nbf` and `iat` (docs/http-api.md §2). */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30;

/** RFC 7523 §3 leaves the assertion's lifetime to the server: at most this far ahead (docs/http-api.md §2). */
export const ASSERTION_MAX_LIFETIME_SECONDS = 300;

/** Records a used `jti` of `clientId` until `expiresAt`; false when it was used already. */
export type JtiClaim = (clientId: string, jti: string, expiresAt: Date) => Promise<boolean>;

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523 §3, RFC 7521 §4.2) against the
 * client's registered keys: signature by one of them with an algorithm of CLIENT_SIGNING_ALGS;
 * `iss` = `sub` = client_id; `aud` the issuer or one of our endpoint URLs (the token endpoint in
 * both flavours, introspection, revocation); `exp` present, not past and at most
 * ASSERTION_MAX_LIFETIME_SECONDS ahead; `nbf` not ahead; each within ASSERTION_CLOCK_SKEW_SECONDS;
 * `jti` present and never seen before for this client (`claim`, shared by every node through
 * the database). Returns why it failed, or undefined when it holds. Does not look at `iat`
 * beyond jose's type check: `exp` bounds the assertion's life.
 */
export class ClientAssertionVerifier {
  private readonly audiences: string[];

  constructor(
    issuer: string,
    private readonly claim: JtiClaim,
    private readonly clock: Clock,
  ) {
    this.audiences = [issuer, `${issuer}/`, `${issuer}/oauth/token`, `${issuer}/oauth2/token`, `${issuer}/oauth/introspect`, `${issuer}/oauth/revoke`];
  }

  async verify(client: ClientSnapshot, assertion: string): Promise<string | undefined> {
    if (!client.keySet) return 'private_key_jwt from a client with no registered keys';
    const now = this.clock.now();
    let payload: { exp?: number | undefined; jti?: unknown };
    try {
      ({ payload } = await verifyWithAnyKey(assertion, client.keySet, {
        algorithms: [...CLIENT_SIGNING_ALGS],
        issuer: client.clientId,
        subject: client.clientId,
        audience: this.audiences,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
        currentDate: now,
      }));
    } catch (err) {
      return `client assertion refused: ${err instanceof errors.JOSEError ? `${err.code} ${err.message}` : 'malformed'}`;
    }
    const exp = payload.exp ?? 0;
    if (exp - now.getTime() / 1000 > ASSERTION_MAX_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) return 'client assertion refused: exp more than 5 minutes ahead';
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) return 'client assertion refused: jti missing or too long';
    // Kept until no clock within the skew could accept the assertion any more.
    if (!(await this.claim(client.clientId, payload.jti, fromEpochSeconds(exp + ASSERTION_CLOCK_SKEW_SECONDS)))) return 'client assertion replayed (jti already used)';
    return undefined;
  }
}

/**
 * jwtVerify against the key set; when the header matches several keys (no `kid`, two keys of one
 * type), jose hands them back and each is tried in turn, as its documentation describes.
 */
async function verifyWithAnyKey(jwt: string, keySet: NonNullable<ClientSnapshot['keySet']>, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(jwt, keySet, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let last: unknown = err;
    for await (const key of err) {
      try {
        return await jwtVerify(jwt, key, options);
      } catch (e) {
        if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
        last = e;
      }
    }
    throw last;
  }
}
