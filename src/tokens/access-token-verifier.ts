import { jwtVerify } from 'jose';
import { fromEpochSeconds, type Clock } from '../clock.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { Repositories } from '../store/repositories/index.js';
import type { AccessTokenClaims } from './access-token.js';

/**
 * Checks access tokens this server issued: signature by a key we still publish (RFC 7517),
 * `typ: at+jwt`, `iss`, `exp` (no leeway: we share our own clock), the audience when
 * given, and the claims our tokens always carry. Revocation is a separate question
 * (`isRevoked`), answered from the database, since only some callers need it.
 */
export class AccessTokenVerifier {
  constructor(
    private readonly issuer: string,
    private readonly keys: () => KeyRing,
    private readonly clock: Clock,
    private readonly read: Repositories,
  ) {}

  async verify(token: string, opts: { audience?: string } = {}): Promise<AccessTokenClaims | undefined> {
    const now = this.clock.now();
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const key = header.kid ? this.keys().publishedKey(header.kid, now) : undefined;
          if (!key || key.alg !== header.alg) throw new Error('unknown key');
          return key.publicKey;
        },
        { issuer: this.issuer, typ: 'at+jwt', currentDate: now, ...(opts.audience ? { audience: opts.audience } : {}) },
      );
      const p = payload as Partial<AccessTokenClaims>;
      if (typeof p.client_id !== 'string' || typeof p.org_id !== 'string' || typeof p.jti !== 'string' || typeof p.aud !== 'string' || typeof p.scope !== 'string') return undefined;
      return payload as unknown as AccessTokenClaims;
    } catch {
      return undefined;
    }
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.read.tokenState.isAccessTokenRevoked(jti);
  }

  /** Remembers the token as revoked until it would have expired anyway. */
  async revoke(claims: AccessTokenClaims): Promise<void> {
    await this.read.tokenState.revokeAccessToken({ jti: claims.jti, clientId: claims.client_id, orgId: claims.org_id, expiresAt: fromEpochSeconds(claims.exp), revokedAt: this.clock.now() });
  }

  /** Forgets revocations of tokens that have expired by now (housekeeping). */
  async prune(): Promise<number> {
    return this.read.tokenState.pruneRevocations(this.clock.now());
  }
}
