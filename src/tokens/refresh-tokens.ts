import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { InvalidGrantError } from '../errors/oauth-error.js';
import { newId, randomBase62 } from '../ids.js';
import type { Database } from '../store/schema.js';

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
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly settings: RefreshTokenSettings,
  ) {}

  /** Starts a family. */
  async issue(clientId: string, audience: string, scope: string[] | null): Promise<string> {
    const now = this.clock.now();
    return this.insert(this.db, { familyId: newId('rtf'), clientId, audience, scope, now, expiresAt: new Date(now.getTime() + this.settings.absoluteTtlSeconds * 1000) });
  }

  /**
   * Spends `token` for `clientId` and returns the facts it carried and its successor.
   * Throws invalid_grant for an unknown, expired, revoked or spent token, or another client's.
   * `check` sees the facts before the token is spent; if it throws, nothing is spent.
   */
  async rotate(token: string, clientId: string, check: (facts: RefreshTokenFacts) => void = () => {}): Promise<{ facts: RefreshTokenFacts; next: string }> {
    const now = this.clock.now();
    const outcome = await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hashOf(token)).forUpdate().executeTakeFirst();
      if (!row) return { error: 'unknown refresh token' } as const;
      if (row.client_id !== clientId) return { error: 'refresh token of another client' } as const;
      if (row.revoked_at) return { error: 'revoked refresh token' } as const;
      if (row.used_at) {
        await this.revokeFamilyIn(trx, row.family_id, now);
        const client = await trx.selectFrom('clients').select('org_id').where('client_id', '=', row.client_id).executeTakeFirst();
        await recordAudit(trx, { type: 'client', id: row.client_id }, {
          orgId: client?.org_id ?? null,
          action: 'refresh_token.reuse_detected',
          target: { type: 'client', id: row.client_id },
          details: { family: row.family_id, first_used_at: row.used_at.toISOString() },
        });
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
      };
      check(facts);
      await trx.updateTable('refresh_tokens').set({ used_at: now }).where('id', '=', row.id).execute();
      const next = await this.insert(trx, { familyId: row.family_id, clientId, audience: row.audience, scope: facts.scope, now, expiresAt: row.expires_at });
      return { facts, next } as const;
    });
    if ('error' in outcome) throw new InvalidGrantError('The refresh token is invalid, expired, revoked or was issued to another client.', outcome.error);
    return outcome;
  }

  /** The live token's facts (for introspection), or undefined. */
  async find(token: string): Promise<(RefreshTokenFacts & { orgId: string }) | undefined> {
    if (!token.startsWith(PREFIX)) return undefined;
    const now = this.clock.now();
    const row = await this.db
      .selectFrom('refresh_tokens')
      .innerJoin('clients', 'clients.client_id', 'refresh_tokens.client_id')
      .selectAll('refresh_tokens')
      .select('clients.org_id')
      .where('refresh_tokens.token_hash', '=', hashOf(token))
      .where('refresh_tokens.used_at', 'is', null)
      .where('refresh_tokens.revoked_at', 'is', null)
      .where('refresh_tokens.expires_at', '>', now)
      .where('refresh_tokens.idle_expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      familyId: row.family_id,
      clientId: row.client_id,
      orgId: row.org_id,
      audience: row.audience,
      scope: row.scope === null ? null : row.scope.split(' '),
      createdAt: row.created_at,
      expiresAt: row.idle_expires_at < row.expires_at ? row.idle_expires_at : row.expires_at,
    };
  }

  /** Who owns `token` (in any state) and its family, or undefined for an unknown token. */
  async ownerOf(token: string): Promise<{ clientId: string; familyId: string } | undefined> {
    if (!token.startsWith(PREFIX)) return undefined;
    const row = await this.db.selectFrom('refresh_tokens').select(['client_id', 'family_id']).where('token_hash', '=', hashOf(token)).executeTakeFirst();
    return row ? { clientId: row.client_id, familyId: row.family_id } : undefined;
  }

  async orgOfClient(clientId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('clients').select('org_id').where('client_id', '=', clientId).executeTakeFirst();
    return row?.org_id;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.revokeFamilyIn(this.db, familyId, this.clock.now());
  }

  /** Drops tokens past their absolute expiry (housekeeping). */
  async prune(): Promise<number> {
    const result = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', this.clock.now()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async revokeFamilyIn(db: Kysely<Database>, familyId: string, now: Date): Promise<void> {
    await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
  }

  private async insert(
    db: Kysely<Database> | Transaction<Database>,
    f: { familyId: string; clientId: string; audience: string; scope: string[] | null; now: Date; expiresAt: Date },
  ): Promise<string> {
    const token = PREFIX + randomBase62(256);
    const idle = new Date(f.now.getTime() + this.settings.idleTtlSeconds * 1000);
    await db
      .insertInto('refresh_tokens')
      .values({
        id: newId('rt'),
        token_hash: hashOf(token),
        family_id: f.familyId,
        client_id: f.clientId,
        audience: f.audience,
        scope: f.scope === null ? null : f.scope.join(' '),
        created_at: f.now,
        expires_at: f.expiresAt,
        idle_expires_at: idle < f.expiresAt ? idle : f.expiresAt,
      })
      .execute();
    return token;
  }
}
