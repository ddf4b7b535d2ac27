import { LRUCache } from 'lru-cache';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * What the token path needs to know about a client, compiled from one indexed read:
 * its organization, its live secrets' hashes and its role ids. Permissions are
 * resolved from the roles against the in-memory catalog (catalog/catalog.ts).
 */
export interface ClientGrant {
  clientId: string;
  orgId: string;
  refreshTokens: boolean;
  roles: string[];
  secrets: { id: string; hash: Buffer; expiresAt: number | null }[];
  /** `secrets[i].hash`, in the same order: what SecretHasher.match takes, built once per load. */
  secretHashes: Buffer[];
}

/**
 * How long an entry may live without a change notice: a safety net, not the invalidation
 * mechanism (notices are; a lost LISTEN connection clears the cache). Long, so that a
 * client asking once an hour still finds its grant cached.
 */
const ENTRY_TTL_MS = 15 * 60_000;

/**
 * A bounded in-process cache of compiled client grants. Changes evict entries
 * at once in this process (ClientService.onChange) and in every other process
 * through change notices (store/changes.ts). An unknown client is not cached:
 * failed authentications are throttled instead (throttle/failure-throttle.ts).
 */
export class GrantCache {
  private readonly cache: LRUCache<string, ClientGrant> | undefined;
  private readonly loading = new Map<string, Promise<ClientGrant | undefined>>();
  /** Bumped by every eviction, so a read that raced a change does not cache stale data. */
  private generation = 0;

  constructor(
    private readonly db: Kysely<Database>,
    maxEntries: number,
  ) {
    // Bounded by maxSize at one unit per entry rather than by max: with max, lru-cache allocates
    // and fills its arrays for every entry up front (about 3 MB resident at the default 100,000,
    // which a platform with fewer clients never fills); with maxSize they grow with the entries.
    // A lookup costs about the same either way (well under a microsecond).
    this.cache = maxEntries > 0 ? new LRUCache({ maxSize: maxEntries, sizeCalculation: () => 1, ttl: ENTRY_TTL_MS }) : undefined;
  }

  async get(clientId: string): Promise<ClientGrant | undefined> {
    const hit = this.cache?.get(clientId);
    if (hit) return hit;
    // Concurrent requests for one client share one query.
    let pending = this.loading.get(clientId);
    if (!pending) {
      const generation = this.generation;
      const load: Promise<ClientGrant | undefined> = loadGrant(this.db, clientId).then(
        (grant) => {
          this.settle(clientId, load);
          if (grant && generation === this.generation) this.cache?.set(clientId, grant);
          return grant;
        },
        (err: unknown) => {
          this.settle(clientId, load);
          throw err;
        },
      );
      pending = load;
      this.loading.set(clientId, pending);
    }
    return pending;
  }

  /** Forgets a finished load, unless a newer one for the same client has taken its place. */
  private settle(clientId: string, load: Promise<ClientGrant | undefined>): void {
    if (this.loading.get(clientId) === load) this.loading.delete(clientId);
  }

  /**
   * Fills the cache with the grants of the most recently used clients, as many as it holds,
   * so that after a start the first request of every client is not a database read on the
   * token path (a restart of a platform with 100,000 active clients would otherwise send
   * them all to the database at once). Read in chunks; a chunk read while a change evicted
   * anything is dropped, and those clients load on demand as usual. Returns the entries added.
   */
  async warm(): Promise<number> {
    const cache = this.cache;
    if (!cache) return 0;
    // Least recent first, so that the most recent end up as the LRU's most recently used.
    const ids = await this.db
      .selectFrom((eb) =>
        eb
          .selectFrom('clients')
          .select(['client_id', 'last_used_at'])
          .orderBy(sql`last_used_at desc nulls last`)
          .orderBy('client_id')
          .limit(cache.maxSize)
          .as('recent'),
      )
      .select('client_id')
      .orderBy(sql`last_used_at asc nulls first`)
      .orderBy('client_id', 'desc')
      .execute();
    let added = 0;
    for (let i = 0; i < ids.length; i += WARM_CHUNK) {
      const generation = this.generation;
      const grants = await loadGrants(this.db, ids.slice(i, i + WARM_CHUNK).map((r) => r.client_id));
      if (generation !== this.generation) continue;
      const byId = new Map(grants.map((g) => [g.clientId, g]));
      for (const { client_id } of ids.slice(i, i + WARM_CHUNK)) {
        const grant = byId.get(client_id);
        if (grant && !cache.has(client_id)) {
          cache.set(client_id, grant);
          added++;
        }
      }
    }
    return added;
  }

  /** Entries held now. */
  get size(): number {
    return this.cache?.size ?? 0;
  }

  evict(clientId: string): void {
    this.generation++;
    this.loading.delete(clientId);
    this.cache?.delete(clientId);
  }

  clear(): void {
    this.generation++;
    this.loading.clear();
    this.cache?.clear();
  }
}

/** Clients per statement when warming. */
const WARM_CHUNK = 1000;

/** The compiled grants of `clientIds` that exist, in one statement (by primary key and the secrets' client index). */
async function loadGrants(db: Kysely<Database>, clientIds: readonly string[]): Promise<ClientGrant[]> {
  if (clientIds.length === 0) return [];
  const rows = await db
    .selectFrom('clients')
    .select((eb) => [
      'clients.client_id',
      'clients.org_id',
      'clients.refresh_tokens',
      sql<string[]>`coalesce((select array_agg(r.role_id order by r.role_id) from client_roles r where r.client_id = ${eb.ref('clients.client_id')}), '{}')`.as('roles'),
      sql<{ id: string; hash: string; expires_at: string | null }[]>`coalesce((
        select json_agg(json_build_object('id', s.id, 'hash', encode(s.hash, 'base64'), 'expires_at', s.expires_at))
        from client_secrets s where s.client_id = ${eb.ref('clients.client_id')}), '[]'::json)`.as('secrets'),
    ])
    .where('clients.client_id', 'in', clientIds)
    .execute();
  return rows.map((row) => {
    const secrets = row.secrets.map((s) => ({ id: s.id, hash: Buffer.from(s.hash, 'base64'), expiresAt: s.expires_at ? Date.parse(s.expires_at) : null }));
    return { clientId: row.client_id, orgId: row.org_id, refreshTokens: row.refresh_tokens, roles: row.roles, secrets, secretHashes: secrets.map((s) => s.hash) };
  });
}

async function loadGrant(db: Kysely<Database>, clientId: string): Promise<ClientGrant | undefined> {
  return (await loadGrants(db, [clientId]))[0];
}
