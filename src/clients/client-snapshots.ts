import { createLocalJWKSet, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Change, ChangeSubscriber } from '../store/change-feed.js';
import type { Repositories } from '../store/repositories/index.js';
import type { ClientSnapshotRow } from '../store/repositories/token-path.js';

/**
 * What the token path needs to know about a client, compiled from one indexed read:
 * its organization, its live secrets' hashes and its role ids. Permissions are
 * resolved from the roles against the in-memory catalog (catalog/catalog.ts).
 */
export interface ClientSnapshot extends ClientSnapshotRow {
  /** `secrets[i].hash`, in the same order: what SecretHasher.match takes, built once per load. */
  secretHashes: Buffer[];
  /** The client's keys as jose's key resolver (keys imported once, on first use), or undefined when it has none. */
  keySet: ReturnType<typeof createLocalJWKSet> | undefined;
}

/**
 * How long an entry may live without a change notice: a safety net, not the invalidation
 * mechanism (the change feed is). Long, so that a
 * client asking once an hour still finds its snapshot cached.
 */
const ENTRY_TTL_MS = 15 * 60_000;

/** Clients per statement when warming. */
const WARM_CHUNK = 1000;

/**
 * Unknown client ids remembered, at most, and for how long. A change to a client (its
 * creation included) evicts its id at once, so the time limit is a safety net; the bound
 * keeps made-up ids from filling memory (past it the least recently asked are forgotten,
 * and cost a read again).
 */
const UNKNOWN_ENTRIES = 10_000;
const UNKNOWN_TTL_MS = 60_000;

/**
 * A bounded in-process cache of client snapshots, following the change feed: a change to a
 * client evicts its entry in every process (store/change-feed.ts). Unknown client ids are
 * remembered too, briefly, so that refusing a request that names one costs what refusing a
 * known client's wrong secret costs (no read), and its time does not tell whether the client
 * exists. ClientService publishes a change when it creates a client, which evicts the id.
 */
export class ClientSnapshotCache implements ChangeSubscriber {
  private readonly cache: LRUCache<string, ClientSnapshot> | undefined;
  private readonly unknown: LRUCache<string, true> | undefined;
  private readonly loading = new Map<string, Promise<ClientSnapshot | undefined>>();
  /** Bumped by every eviction, so a read that raced a change does not cache stale data. */
  private generation = 0;

  constructor(
    private readonly read: Repositories,
    maxEntries: number,
  ) {
    // Bounded by maxSize at one unit per entry rather than by max: with max, lru-cache allocates
    // and fills its arrays for every entry up front (about 3 MB resident at the default 100,000,
    // which a platform with fewer clients never fills); with maxSize they grow with the entries.
    // A lookup costs about the same either way (well under a microsecond).
    this.cache = maxEntries > 0 ? new LRUCache({ maxSize: maxEntries, sizeCalculation: () => 1, ttl: ENTRY_TTL_MS }) : undefined;
    // Without a cache every request reads (known clients too), so there is nothing to even out.
    this.unknown = maxEntries > 0 ? new LRUCache({ maxSize: UNKNOWN_ENTRIES, sizeCalculation: () => 1, ttl: UNKNOWN_TTL_MS }) : undefined;
  }

  async get(clientId: string): Promise<ClientSnapshot | undefined> {
    const hit = this.cache?.get(clientId);
    if (hit) return hit;
    if (this.unknown?.get(clientId)) return undefined;
    // Concurrent requests for one client share one query.
    let pending = this.loading.get(clientId);
    if (!pending) {
      const generation = this.generation;
      const load: Promise<ClientSnapshot | undefined> = this.load([clientId])
        .then(([snapshot]) => snapshot)
        .then(
          (snapshot) => {
            this.settle(clientId, load);
            if (generation === this.generation) {
              if (snapshot) this.cache?.set(clientId, snapshot);
              else this.unknown?.set(clientId, true);
            }
            return snapshot;
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
  private settle(clientId: string, load: Promise<ClientSnapshot | undefined>): void {
    if (this.loading.get(clientId) === load) this.loading.delete(clientId);
  }

  /**
   * Fills the cache with the snapshots of the most recently used clients, as many as it holds,
   * so that after a start the first request of every client is not a database read on the
   * token path (a restart of a platform with 100,000 active clients would otherwise send
   * them all to the database at once). Read in chunks; a chunk read while a change evicted
   * anything is dropped, and those clients load on demand as usual. Returns the entries added.
   */
  async warm(): Promise<number> {
    const cache = this.cache;
    if (!cache) return 0;
    // Least recent first, so that the most recent end up as the LRU's most recently used.
    const ids = await this.read.tokenPath.recentlyUsedClientIds(cache.maxSize);
    let added = 0;
    for (let i = 0; i < ids.length; i += WARM_CHUNK) {
      const generation = this.generation;
      const chunk = ids.slice(i, i + WARM_CHUNK);
      const snapshots = await this.load(chunk);
      if (generation !== this.generation) continue;
      const byId = new Map(snapshots.map((g) => [g.clientId, g]));
      for (const clientId of chunk) {
        const snapshot = byId.get(clientId);
        if (snapshot && !cache.has(clientId)) {
          cache.set(clientId, snapshot);
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

  apply(change: Change): void {
    if (change.kind === 'client') this.evict(change.clientId);
  }

  /** The feed could not tell what changed: forget everything (it reloads on demand). */
  reset(): void {
    this.clear();
  }

  evict(clientId: string): void {
    this.generation++;
    this.loading.delete(clientId);
    this.cache?.delete(clientId);
    this.unknown?.delete(clientId);
  }

  clear(): void {
    this.generation++;
    this.loading.clear();
    this.cache?.clear();
    this.unknown?.clear();
  }

  private async load(clientIds: readonly string[]): Promise<ClientSnapshot[]> {
    return (await this.read.tokenPath.snapshots(clientIds)).map((row) => ({
      ...row,
      secretHashes: row.secrets.map((s) => s.hash),
      keySet: row.jwks.length > 0 ? createLocalJWKSet({ keys: row.jwks as JWK[] }) : undefined,
    }));
  }
}
