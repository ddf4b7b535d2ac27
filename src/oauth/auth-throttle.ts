import { RateLimiterMemory, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { TooManyRequestsError } from '../errors/oauth-error.js';

export interface ThrottleSettings {
  failuresPerClient: number;
  failuresPerIp: number;
  windowSeconds: number;
}

/**
 * Throttles failed client authentication, per client_id and per source IP, so a
 * secret cannot be guessed online: after too many failures within the window, every
 * request for that client (or from that IP) answers 429 with Retry-After until the
 * window ends, whether its secret is right or not. Successful requests cost two
 * in-memory lookups and count nothing.
 *
 * Per-client lockout lets whoever knows a client_id slow that client down; the limit
 * is high enough that a misconfigured deployment notices before its peers do, and
 * operators can raise it (AUTH_FAILURES_PER_CLIENT).
 */
export class AuthThrottle {
  private readonly perClient: RateLimiterAbstract;
  private readonly perIp: RateLimiterAbstract;

  constructor(private readonly settings: ThrottleSettings) {
    this.perClient = new RateLimiterMemory({ keyPrefix: 'authfail:client', points: settings.failuresPerClient, duration: settings.windowSeconds });
    this.perIp = new RateLimiterMemory({ keyPrefix: 'authfail:ip', points: settings.failuresPerIp, duration: settings.windowSeconds });
  }

  /** Throws TooManyRequestsError while the client or the IP is locked out. */
  async check(clientId: string | undefined, ip: string): Promise<void> {
    const [byClient, byIp] = await Promise.all([clientId === undefined ? null : this.perClient.get(clientId), this.perIp.get(ip)]);
    const blocked = [
      exhausted(byClient, this.settings.failuresPerClient),
      exhausted(byIp, this.settings.failuresPerIp),
    ].filter((ms): ms is number => ms !== undefined);
    if (blocked.length > 0) throw new TooManyRequestsError(Math.max(...blocked) / 1000);
  }

  async failed(clientId: string | undefined, ip: string): Promise<void> {
    await Promise.all([clientId === undefined ? undefined : this.perClient.penalty(clientId, 1), this.perIp.penalty(ip, 1)]);
  }
}

function exhausted(res: RateLimiterRes | null, limit: number): number | undefined {
  return res && res.consumedPoints >= limit ? res.msBeforeNext : undefined;
}
