import type { ClientSnapshot } from '../clients/client-snapshots.js';
import type { Clock } from '../clock.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { TokenQuota } from '../wire/management.js';
import type { PolicyCache } from './policy-cache.js';
import type { QuotaStore, QuotaWindow } from './quota-store.js';

const WINDOW_MS = { hour: 3600_000, day: 86400_000 } as const;
const NONE: readonly QuotaWindow[] = Object.freeze([]);

/**
 * 429 `quota_exceeded` (docs/http-api.md §2): the client or its organization has used up its
 * token quota; `Retry-After` is the seconds until the window (a UTC hour or day) ends.
 */
export class QuotaExceededError extends OAuthError {
  constructor(
    readonly retryAfterSeconds: number,
    whose: 'client' | 'organization',
    quota: TokenQuota,
  ) {
    super('quota_exceeded', `The ${whose}'s token quota (${quota.limit} per ${quota.per}) is used up; retry after the window ends.`, 429);
  }
  override headers(): Record<string, string> {
    return { 'retry-after': String(Math.max(1, Math.ceil(this.retryAfterSeconds))) };
  }
}

function windowOf(key: string, quota: TokenQuota, now: number): QuotaWindow {
  const size = WINDOW_MS[quota.per];
  const start = now - (now % size);
  return { key: `${key}:${quota.per}`, limit: quota.limit, start, end: start + size };
}

/**
 * Token quotas of clients (`token_quota`) and organizations (their policy's): fixed UTC
 * windows, counted in a QuotaStore. A client or organization without a quota costs nothing
 * (no window, no allocation). A refusal is told to the listeners (the Prometheus counter).
 */
export class Quotas {
  private readonly listeners: ((clientId: string) => void)[] = [];

  constructor(
    private readonly store: QuotaStore,
    private readonly policies: PolicyCache,
    private readonly clock: Clock,
  ) {}

  onRefusal(listener: (clientId: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Counts one token for `client`, or throws QuotaExceededError; the answer is what to give back
   * if no token comes of it. Synchronous unless the store is (no promise on the token path).
   */
  admit(client: ClientSnapshot): readonly QuotaWindow[] | Promise<readonly QuotaWindow[]> {
    const orgQuota = this.policies.of(client.orgId).token_quota;
    if (client.tokenQuota === null && orgQuota === null) return NONE;
    const now = this.clock.nowMs();
    const windows: QuotaWindow[] = [];
    if (client.tokenQuota) windows.push(windowOf(`client:${client.clientId}`, client.tokenQuota, now));
    if (orgQuota) windows.push(windowOf(`org:${client.orgId}`, orgQuota, now));
    const taken = this.store.take(windows);
    const settle = (full: QuotaWindow | undefined): readonly QuotaWindow[] => {
      if (!full) return windows;
      for (const listener of this.listeners) listener(client.clientId);
      const whose = full.key.startsWith('client:') ? 'client' : 'organization';
      throw new QuotaExceededError((full.end - now) / 1000, whose, whose === 'client' ? (client.tokenQuota as TokenQuota) : (orgQuota as TokenQuota));
    };
    return taken instanceof Promise ? taken.then(settle) : settle(taken);
  }

  async giveBack(windows: readonly QuotaWindow[]): Promise<void> {
    if (windows.length > 0) await this.store.giveBack(windows);
  }
}
