import type { Selectable } from 'kysely';
import type { Executor } from '../executor.js';
import type { RefreshTokenTable, UsedJtiTable } from '../schema.js';

export type RefreshTokenRow = Selectable<RefreshTokenTable>;

/**
 * Refresh-token families and revoked access tokens. Like TokenPathRepository, this is the
 * OAuth endpoints' side: a token is found by what the caller presents (its hash, its jti),
 * and its organization is read from the row, then checked by the caller.
 */
export class TokenStateRepository {
  constructor(private readonly db: Executor) {}

  /** The token with this hash in any state, locked until the transaction ends (unique token_hash). */
  async lockRefreshToken(tokenHash: Buffer): Promise<RefreshTokenRow | undefined> {
    return this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).forUpdate().executeTakeFirst();
  }

  /** A live (unspent, unrevoked, unexpired) token with its client's organization (unique token_hash, clients' primary key). */
  async liveRefreshToken(tokenHash: Buffer, now: Date): Promise<(RefreshTokenRow & { org_id: string }) | undefined> {
    return this.db
      .selectFrom('refresh_tokens')
      .innerJoin('clients', 'clients.client_id', 'refresh_tokens.client_id')
      .selectAll('refresh_tokens')
      .select('clients.org_id')
      .where('refresh_tokens.token_hash', '=', tokenHash)
      .where('refresh_tokens.used_at', 'is', null)
      .where('refresh_tokens.revoked_at', 'is', null)
      .where('refresh_tokens.expires_at', '>', now)
      .where('refresh_tokens.idle_expires_at', '>', now)
      .executeTakeFirst();
  }

  /** Who owns the token with this hash, in any state (unique token_hash). */
  async refreshTokenOwner(tokenHash: Buffer): Promise<{ clientId: string; familyId: string } | undefined> {
    const row = await this.db.selectFrom('refresh_tokens').select(['client_id', 'family_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? { clientId: row.client_id, familyId: row.family_id } : undefined;
  }

  async insertRefreshToken(row: Omit<RefreshTokenRow, 'used_at' | 'revoked_at'>): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(row).execute();
  }

  async spendRefreshToken(id: string, at: Date): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ used_at: at }).where('id', '=', id).execute();
  }

  /** Revokes every token of the family not revoked yet (refresh_tokens_family_idx). */
  async revokeFamily(familyId: string, at: Date): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: at }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
  }

  /** Drops tokens past their absolute expiry (a scan: hourly housekeeping). */
  async pruneRefreshTokens(now: Date): Promise<number> {
    const result = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Records a `jti` as used until `expiresAt`; false when it was already (a replay). One
   * statement on the primary key, so two nodes racing with the same `jti` cannot both win.
   */
  async claimJti(kind: UsedJtiTable['kind'], owner: string, jti: string, expiresAt: Date): Promise<boolean> {
    const rows = await this.db
      .insertInto('used_jtis')
      .values({ kind, owner, jti, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['kind', 'owner', 'jti']).doNothing())
      .returning('jti')
      .execute();
    return rows.length === 1;
  }

  /** Forgets jtis that could no longer be accepted anyway (used_jtis_expires_idx; housekeeping). */
  async pruneUsedJtis(now: Date): Promise<number> {
    const result = await this.db.deleteFrom('used_jtis').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Primary key. */
  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return (await this.db.selectFrom('revoked_access_tokens').select('jti').where('jti', '=', jti).executeTakeFirst()) !== undefined;
  }

  async revokeAccessToken(token: { jti: string; clientId: string; orgId: string; expiresAt: Date; revokedAt: Date }): Promise<void> {
    await this.db
      .insertInto('revoked_access_tokens')
      .values({ jti: token.jti, client_id: token.clientId, org_id: token.orgId, expires_at: token.expiresAt, revoked_at: token.revokedAt })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  /** Forgets revocations of tokens that have expired by now (a scan: hourly housekeeping). */
  async pruneRevocations(now: Date): Promise<number> {
    const result = await this.db.deleteFrom('revoked_access_tokens').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
