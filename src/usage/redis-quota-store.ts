import type { SharedRedis } from '../store/redis.js';
import type { QuotaStore, QuotaWindow } from './quota-store.js';

/**
 * Takes one token in every window (KEYS, with their limits and ends in ARGV) unless one is
 * full: then nothing is counted and the answer is that window's position (1-based); 0 when
 * counted. Atomic, so two nodes can never both take the last token of a window. Each key
 * expires when its window ends.
 */
const TAKE = `
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then return i end
end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIREAT', KEYS[i], ARGV[2 * i])
end
return 0
`;

/** Gives back one token of each window, never below zero. */
const GIVE_BACK = `
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`;

/**
 * Token quotas counted in Redis (REDIS_URL): exact across every process and node, in one round
 * trip per token request that has a quota (a script, so the check and the count are one step).
 * The windows are the fixed UTC hours and days of ./quotas.ts, keyed by their start, which
 * rate-limiter-flexible's windows (opened by a key's first point) cannot express.
 *
 * While Redis does not answer, `fallback` counts (this process's store, with the other nodes'
 * counts learned through the database when there is one), as the rate limits fall back to memory:
 * quotas keep holding, per process, and never make a token request wait or fail.
 */
export class RedisQuotaStore implements QuotaStore {
  constructor(
    private readonly redis: SharedRedis,
    private readonly fallback: QuotaStore,
  ) {}

  async take(windows: readonly QuotaWindow[]): Promise<QuotaWindow | undefined> {
    if (!this.redis.up) return this.fallback.take(windows);
    try {
      const args = windows.flatMap((w) => [String(w.limit), String(w.end)]);
      const full = Number(await this.redis.client.eval(TAKE, windows.length, ...windows.map((w) => this.keyOf(w)), ...args));
      return full === 0 ? undefined : windows[full - 1];
    } catch {
      this.redis.fellBack();
      return this.fallback.take(windows);
    }
  }

  async giveBack(windows: readonly QuotaWindow[]): Promise<void> {
    if (!this.redis.up) return this.fallback.giveBack(windows);
    try {
      await this.redis.client.eval(GIVE_BACK, windows.length, ...windows.map((w) => this.keyOf(w)));
    } catch {
      this.redis.fellBack();
    }
  }

  private keyOf(w: QuotaWindow): string {
    return `${this.redis.keyPrefix}quota:${w.key}:${w.start}`;
  }
}
