import { RateLimiterMemory, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { nowMs, systemClock, type Clock } from '../clock.js';
import { ThrottledError } from '../errors/domain-errors.js';

export interface ThrottleSettings {
  /** Failures allowed per key (a client_id, an account's email) within the window. */
  failuresPerKey: number;
  failuresPerIp: number;
  windowSeconds: number;
  /** Names the counters, so two throttles never share one. */
  name: string;
}

/**
 * Throttles failed authentication, per key (a client_id; an account's email) and per
 * source IP, so a secret or password cannot be guessed online: after too many failures
 * within the window, every attempt for that key (or from that IP) answers 429 with
 * Retry-After until the window ends, whether its secret is right or not. Successful
 * attempts count nothing, and while neither the key nor the IP has failed within the
 * window, checking costs one synchronous map lookup each: the token path checks on
 * every request.
 *
 * Per-key lockout lets whoever knows a client_id slow that client down; the limit is
 * high enough that a misconfigured deployment notices before its peers do, and
 * operators can raise it (AUTH_FAILURES_PER_CLIENT).
 */
export class FailureThrottle {
  private readonly perKey: RateLimiterAbstract;
  private readonly perIp: RateLimiterAbstract;
  /**
   * Keys and IPs with a failure in the last window → until when (ms) the counters may still
   * hold it. Nothing here means nothing to look up; an entry only says "ask the counters",
   * so keeping one too long is harmless.
   */
  private readonly keysFailed = new Map<string, number>();
  private readonly ipsFailed = new Map<string, number>();
  /** Sweep expired entries when the maps grow past this (amortized, no timer). */
  private sweepAt = 1024;

  constructor(
    private readonly settings: ThrottleSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.perKey = new RateLimiterMemory({ keyPrefix: `${settings.name}:key`, points: settings.failuresPerKey, duration: settings.windowSeconds });
    this.perIp = new RateLimiterMemory({ keyPrefix: `${settings.name}:ip`, points: settings.failuresPerIp, duration: settings.windowSeconds });
  }

  /** Throws (or rejects with) ThrottledError while the key or the IP is locked out. */
  check(key: string | undefined, ip: string): Promise<void> | undefined {
    const now = nowMs(this.clock);
    const keyFailed = key !== undefined && failedRecently(this.keysFailed, key, now);
    const ipFailed = failedRecently(this.ipsFailed, ip, now);
    if (!keyFailed && !ipFailed) return undefined;
    return this.lookup(keyFailed ? key : undefined, ipFailed ? ip : undefined);
  }

  async failed(key: string | undefined, ip: string): Promise<void> {
    const until = nowMs(this.clock) + this.settings.windowSeconds * 1000;
    if (key !== undefined) this.keysFailed.set(key, until);
    this.ipsFailed.set(ip, until);
    if (this.keysFailed.size + this.ipsFailed.size > this.sweepAt) this.sweep();
    await Promise.all([key === undefined ? undefined : this.perKey.penalty(key, 1), this.perIp.penalty(ip, 1)]);
  }

  private sweep(): void {
    const now = nowMs(this.clock);
    for (const failed of [this.keysFailed, this.ipsFailed]) for (const [entry, until] of failed) if (until <= now) failed.delete(entry);
    this.sweepAt = Math.max(1024, (this.keysFailed.size + this.ipsFailed.size) * 2);
  }

  private async lookup(key: string | undefined, ip: string | undefined): Promise<void> {
    const [byKey, byIp] = await Promise.all([key === undefined ? null : this.perKey.get(key), ip === undefined ? null : this.perIp.get(ip)]);
    const blocked = [exhausted(byKey, this.settings.failuresPerKey), exhausted(byIp, this.settings.failuresPerIp)].filter((ms): ms is number => ms !== undefined);
    if (blocked.length > 0) throw new ThrottledError(Math.max(...blocked) / 1000);
  }
}

/** Whether `entry` failed within the window; forgets it once the window has passed. */
function failedRecently(failed: Map<string, number>, entry: string, now: number): boolean {
  const until = failed.get(entry);
  if (until === undefined) return false;
  if (until > now) return true;
  failed.delete(entry);
  return false;
}

function exhausted(res: RateLimiterRes | null, limit: number): number | undefined {
  return res && res.consumedPoints >= limit ? res.msBeforeNext : undefined;
}
