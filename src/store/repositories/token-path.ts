import { sql } from 'kysely';
import type { Executor } from '../executor.js';
import type { PublicJwk } from '../schema.js';

/** What the token path knows of a client, compiled from one indexed read. */
export interface ClientSnapshotRow {
  clientId: string;
  orgId: string;
  refreshTokens: boolean;
  /** Token requests must carry a DPoP proof (RFC 9449). */
  requireDpop: boolean;
  /** Public JWKs for private_key_jwt; empty when the client has none. */
  jwks: PublicJwk[];
  roles: string[];
  secrets: { id: string; hash: Buffer; expiresAt: number | null }[];
}

export interface SecretUse {
  clientId: string;
  secretId: string;
  at: Date;
}

/**
 * The one documented exception to "organization first": the OAuth endpoints meet a client
 * by its `client_id` before they know its organization, which they learn from the row.
 * Nothing here changes what a client may do; it reads clients for the token path and
 * records when their secrets were used.
 */
export class TokenPathRepository {
  constructor(private readonly db: Executor) {}

  /** The snapshots of `clientIds` that exist, in one statement (primary key, client_secrets_client_idx, client_roles_pk). */
  async snapshots(clientIds: readonly string[]): Promise<ClientSnapshotRow[]> {
    if (clientIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('clients')
      .select((eb) => [
        'clients.client_id',
        'clients.org_id',
        'clients.refresh_tokens',
        'clients.require_dpop',
        'clients.jwks',
        sql<string[]>`coalesce((select array_agg(r.role_id order by r.role_id) from client_roles r where r.client_id = ${eb.ref('clients.client_id')}), '{}')`.as('roles'),
        sql<{ id: string; hash: string; expires_at: string | null }[]>`coalesce((
          select json_agg(json_build_object('id', s.id, 'hash', encode(s.hash, 'base64'), 'expires_at', s.expires_at))
          from client_secrets s where s.client_id = ${eb.ref('clients.client_id')}), '[]'::json)`.as('secrets'),
      ])
      .where('clients.client_id', 'in', clientIds)
      .execute();
    return rows.map((row) => ({
      clientId: row.client_id,
      orgId: row.org_id,
      refreshTokens: row.refresh_tokens,
      requireDpop: row.require_dpop,
      jwks: row.jwks,
      roles: row.roles,
      secrets: row.secrets.map((s) => ({ id: s.id, hash: Buffer.from(s.hash, 'base64'), expiresAt: s.expires_at ? Date.parse(s.expires_at) : null })),
    }));
  }

  /** Up to `limit` client ids, least recently used first (a sort of clients; run once at start). */
  async recentlyUsedClientIds(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom((eb) => eb.selectFrom('clients').select(['client_id', 'last_used_at']).orderBy(sql`last_used_at desc nulls last`).orderBy('client_id').limit(limit).as('recent'))
      .select('client_id')
      .orderBy(sql`last_used_at asc nulls first`)
      .orderBy('client_id', 'desc')
      .execute();
    return rows.map((r) => r.client_id);
  }

  /** The organization of a client, or undefined for a client that no longer exists (primary key). */
  async orgOfClient(clientId: string): Promise<string | undefined> {
    return (await this.db.selectFrom('clients').select('org_id').where('client_id', '=', clientId).executeTakeFirst())?.org_id;
  }

  /**
   * Moves `last_used_at` of secrets and their clients forward (primary keys). greatest():
   * an older batch arriving late never moves a time backwards; deleted clients match no row.
   */
  async recordUses(uses: readonly SecretUse[]): Promise<void> {
    if (uses.length === 0) return;
    const byClient = new Map<string, Date>();
    for (const u of uses) if ((byClient.get(u.clientId)?.getTime() ?? 0) < u.at.getTime()) byClient.set(u.clientId, u.at);
    await sql`update client_secrets s set last_used_at = greatest(s.last_used_at, v.at)
      from (values ${sql.join(uses.map((u) => sql`(${u.secretId}, ${u.at.toISOString()}::timestamptz)`))}) as v(id, at)
      where s.id = v.id`.execute(this.db);
    await sql`update clients c set last_used_at = greatest(c.last_used_at, v.at)
      from (values ${sql.join([...byClient].map(([id, at]) => sql`(${id}, ${at.toISOString()}::timestamptz)`))}) as v(id, at)
      where c.client_id = v.id`.execute(this.db);
  }
}
