import { createHash } from 'node:crypto';
import { addSeconds, earlier, type Clock } from '../clock.js';
import { InvalidGrantError } from '../errors/oauth-error.js';
import { newId, randomBase62 } from '../ids.js';
import type { Data, Repositories } from '../store/repositories/index.js';

/** `pcr_` + 256 random bits: recognisable to secret scanners, like client secrets. */
const PREFIX = 'pcr_';

export interface RefreshTokenFacts {
  id: string;
  familyId: string;
  clientId: string;
  audience: string;
  /** Null: everything the client holds on the audience at the time of use. */
  scope: string[] | null;
  createdAt: Date;
  expiresAt: Date;
  /** The thumbprint of the DPoP key the family is bound to (RFC 9449 §5), or null. */
  jkt: string | null;
}

export interface RefreshTokenSettings {
  absoluteTtlSeconds: number;
  idleTtlSeconds: number;
}

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Refresh tokens for client-credentials clients that opt in (RFC 6749 §4.4.3 says
 * SHOULD NOT by default). Opaque, stored hashed, bound to the client and audience.
 * Every use rotates: the used token is spent and a new one of the same family is
 * issued, keeping the family's absolute expiry. Presenting a spent token again means
 * it leaked: the whole family is revoked and the event audited (OAuth 2.0 Security
 * BCP §4.14.2).
 */
export class RefreshTokenService {
  constructor(
    private readonly data: Data,
    private readonly clock: Clock,
    private readonly settings: RefreshTokenSettings,
  ) {}

  /** Starts a family, bound to the DPoP key `jkt` when the request carried a proof. */
  async issue(clientId: string, audience: string, scope: string[] | null, jkt: string | null = null): Promise<string> {
    const now = this.clock.now();
    return this.insert(this.data.read, { familyId: newId('rtf'), clientId, audience, scope, jkt, now, expiresAt: addSeconds(now, this.settings.absoluteTtlSeconds) });
  }

  /**
   * Spends `token` for `clientId` and returns the facts it carried and its successor.
   * Throws invalid_grant for an unknown, expired, revoked or spent token, or another client's.
   * `check` sees the facts before the token is spent; if it throws, nothing is spent.
   */
  async rotate(token: string, clientId: string, check: (facts: RefreshTokenFacts) => void = () => {}): Promise<{ facts: RefreshTokenFacts; next: string }> {
    const now = this.clock.now();
    const outcome = await this.data.transaction(async (tx) => {
      const row = await tx.tokenState.lockRefreshToken(hashOf(token));
      if (!row) return { error: 'unknown refresh token' } as const;
      if (row.client_id !== clientId) return { error: 'refresh token of another client' } as const;
      if (row.revoked_at) return { error: 'revoked refresh token' } as const;
      if (row.used_at) {
        await tx.tokenState.revokeFamily(row.family_id, now);
        await tx.audit.record(
          (await tx.tokenPath.orgOfClient(row.client_id)) ?? null,
          { type: 'client', id: row.client_id },
          {
            action: 'refresh_token.reuse_detected',
            target: { type: 'client', id: row.client_id },
            details: { family: row.family_id, first_used_at: row.used_at.toISOString() },
          },
        );
        return { error: 'refresh token re-used: family revoked' } as const;
      }
      if (row.expires_at <= now || row.idle_expires_at <= now) return { error: 'expired refresh token' } as const;
      const facts: RefreshTokenFacts = {
        id: row.id,
        familyId: row.family_id,
        clientId: row.client_id,
        audience: row.audience,
        scope: row.scope === null ? null : row.scope.split(' '),
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        jkt: row.jkt,
      };
      check(facts);
      await tx.tokenState.spendRefreshToken(row.id, now);
      const next = await this.insert(tx, { familyId: row.family_id, clientId, audience: row.audience, scope: facts.scope, jkt: row.jkt, now, expiresAt: row.expires_at });
      return { facts, next } as const;
    });
    if ('error' in outcome) throw new InvalidGrantError('The refresh token is invalid, expired, revoked or was issued to another client.', outcome.error);
    return outcome;
  }

  /** The live token's facts (for introspection), or undefined. */
  async find(token: string): Promise<(RefreshTokenFacts & { orgId: string }) | undefined> {
    if (!token.startsWith(PREFIX)) return undefined;
    const now = this.clock.now();
    const row = await this.data.read.tokenState.liveRefreshToken(hashOf(token), now);
    if (!row) return undefined;
    return {
      id: row.id,
      familyId: row.family_id,
      clientId: row.client_id,
      orgId: row.org_id,
      audience: row.audience,
      scope: row.scope === null ? null : row.scope.split(' '),
      createdAt: row.created_at,
      expiresAt: earlier(row.idle_expires_at, row.expires_at),
      jkt: row.jkt,
    };
  }

  /** Who owns `token` (in any state) and its family, or undefined for an unknown token. */
  async ownerOf(token: string): Promise<{ clientId: string; familyId: string } | undefined> {
    if (!token.startsWith(PREFIX)) return undefined;
    return this.data.read.tokenState.refreshTokenOwner(hashOf(token));
  }

  /** The organization of a client, or undefined for one that no longer exists. */
  async orgOfClient(clientId: string): Promise<string | undefined> {
    return this.data.read.tokenPath.orgOfClient(clientId);
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.data.read.tokenState.revokeFamily(familyId, this.clock.now());
  }

  /** Drops tokens past their absolute expiry (housekeeping). */
  async prune(): Promise<number> {
    return this.data.read.tokenState.pruneRefreshTokens(this.clock.now());
  }

  private async insert(repos: Repositories, f: { familyId: string; clientId: string; audience: string; scope: string[] | null; jkt: string | null; now: Date; expiresAt: Date }): Promise<string> {
    const token = PREFIX + randomBase62(256);
    const idle = addSeconds(f.now, this.settings.idleTtlSeconds);
    await repos.tokenState.insertRefreshToken({
      id: newId('rt'),
      token_hash: hashOf(token),
      family_id: f.familyId,
      client_id: f.clientId,
      audience: f.audience,
      scope: f.scope === null ? null : f.scope.join(' '),
      created_at: f.now,
      expires_at: f.expiresAt,
      idle_expires_at: earlier(idle, f.expiresAt),
      jkt: f.jkt,
    });
    return token;
  }
}
