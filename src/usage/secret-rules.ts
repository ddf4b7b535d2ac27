import type { ClientSnapshot } from '../clients/client-snapshots.js';
import { fromEpochMs } from '../clock.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Data } from '../store/repositories/index.js';
import type { SnapshotSecret } from '../store/repositories/token-path.js';
import type { PolicyCache } from './policy-cache.js';

const DAY_MS = 86400_000;

/**
 * The secret rules besides hash and grace period (docs/usage-and-quotas.md):
 *
 * - the organization's `secret_max_age_days`: a secret older than that fails like a rotated-away one;
 * - a previous secret's `retire_when_unused_seconds`: it stops once unused that long.
 *
 * "Unused for N seconds" is decided from the latest of: the last use this process saw (kept in
 * memory, no write per token), the last use flushed to the database by every process (the
 * snapshot's, and re-read once before retiring), and, for a secret never used, its creation.
 * A use on another node reaches the database within the last-used resolution plus a flush
 * (about 65 s), which is why N is at least 120 s. The process that finds a secret unused ends
 * its grace period in the database and announces it, so every node refuses it from then on.
 */
export class SecretRules {
  /** secret id → the last use this process saw (ms), for previous secrets that retire when unused. */
  private readonly localUse = new Map<string, number>();

  constructor(
    private readonly policies: PolicyCache,
    private readonly data: Data,
    private readonly feed: ChangeFeed,
  ) {}

  /** Why `secret` may not be used at `now`, or undefined. No promise unless a previous secret looks unused. */
  refuses(client: ClientSnapshot, secret: SnapshotSecret, now: number): string | undefined | Promise<string | undefined> {
    const maxAge = this.policies.of(client.orgId).secret_max_age_days;
    if (maxAge !== null && secret.createdAt + maxAge * DAY_MS <= now) return "secret older than the policy's secret_max_age_days";
    const retire = secret.retireWhenUnusedSeconds;
    if (retire === null || secret.expiresAt === null) return undefined;
    const last = Math.max(this.localUse.get(secret.id) ?? 0, secret.lastUsedAt ?? secret.createdAt);
    if (now - last < retire * 1000) {
      this.used(secret.id, now);
      return undefined;
    }
    return this.confirmUnused(client, secret, now, retire);
  }

  private used(secretId: string, now: number): void {
    // Bounded: past it, forgetting is safe (the flushed last use is asked before retiring).
    if (this.localUse.size >= 10_000 && !this.localUse.has(secretId)) this.localUse.clear();
    this.localUse.set(secretId, now);
  }

  /** The database may know of a use on another node since the snapshot was read: ask it, then retire or accept. */
  private async confirmUnused(client: ClientSnapshot, secret: SnapshotSecret, now: number, retire: number): Promise<string | undefined> {
    const stored = await this.data.read.tokenPath.secretLastUsed(secret.id);
    if (!stored) return 'secret no longer exists';
    const flushed = stored.lastUsedAt?.getTime() ?? 0;
    if (now - flushed < retire * 1000) {
      this.used(secret.id, now);
      return undefined;
    }
    this.localUse.delete(secret.id);
    await this.data.transaction(async (tx) => {
      if (await tx.tokenPath.retireSecret(secret.id, fromEpochMs(now))) await this.feed.publish(tx, { kind: 'client', clientId: client.clientId });
    });
    return `previous secret unused for ${retire} s (retire_when_unused_seconds)`;
  }
}
