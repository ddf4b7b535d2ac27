import { RateLimiterMemory, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../errors/oauth-error.js';

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
 * attempts cost two in-memory lookups and count nothing.
 *
 * Per-key lockout lets whoever knows a client_id slow that client down; the limit is
 * high enough that a misconfigured deployment notices before its peers do, and
 * operators can raise it (AUTH_FAILURES_PER_CLIENT).
 */
export class FailureThrottle {
  private readonly perKey: RateLimiterAbstract;
  private readonly perIp: RateLimiterAbstract;

  constructor(private readonly settings: ThrottleSettings) {
    this.perKey = new RateLimiterMemory({ keyPrefix: `${settings.name}:key`, points: settings.failuresPerKey, duration: settings.windowSeconds });
    this.perIp = new RateLimiterMemory({ keyPrefix: `${settings.name}:ip`, points: settings.failuresPerIp, duration: settings.windowSeconds });
  }

  /** Throws TooManyRequestsError while the key or the IP is locked out. */
  async check(key: string | undefined, ip: string): Promise<void> {
    const [byKey, byIp] = await Promise.all([key === undefined ? null : this.perKey.get(key), this.perIp.get(ip)]);
    const blocked = [
      exhausted(byKey, this.settings.failuresPerKey),
      exhausted(byIp, this.settings.failuresPerIp),
    ].filter((ms): ms is number => ms !== undefined);
    if (blocked.length > 0) throw new TooManyRequestsError(Math.max(...blocked) / 1000);
  }

  async failed(key: string | undefined, ip: string): Promise<void> {
    await Promise.all([key === undefined ? undefined : this.perKey.penalty(key, 1), this.perIp.penalty(ip, 1)]);
  }
}

function exhausted(res: RateLimiterRes | null, limit: number): number | undefined {
  return res && res.consumedPoints >= limit ? res.msBeforeNext : undefined;
}
