import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One key's failures as a counter holds them. */
export interface FailureCount {
  /** Failures counted in the key's current window (past the limit once it has been reached). */
  failures: number;
  /** Milliseconds until the key's count is forgotten: the window's end, or the refusal's once the limit has been reached. */
  msLeft: number;
}

/**
 * Failures per key within a window, with a limit: the failure that reaches the limit refuses
 * the key for a full window from then. FailureThrottle counts through this and nothing else;
 * where the counts live (this process, or Redis for all of them) is the limiter's business
 * (throttle/limiters.ts).
 */
export interface FailureCounter {
  readonly limit: number;
  /** Counts one failure of `key`; resolves to its count after it. */
  consume(key: string): Promise<FailureCount>;
  /** The key's count, or null when it has none (never failed, or forgotten). */
  get(key: string): Promise<FailureCount | null>;
  delete(key: string): Promise<void>;
}

/**
 * A FailureCounter on a rate-limiter-flexible limiter whose `points` are the limit and whose
 * `duration` (and `blockDuration`) is the window, in seconds: any of its stores (memory, Redis).
 */
export class RateLimiterCounter implements FailureCounter {
  readonly limit: number;
  private readonly windowSeconds: number;

  constructor(private readonly limiter: RateLimiterAbstract) {
    this.limit = limiter.points;
    this.windowSeconds = limiter.duration;
  }

  async consume(key: string): Promise<FailureCount> {
    let res: RateLimiterRes;
    try {
      res = await this.limiter.consume(key, 1);
    } catch (err) {
      // Rejected: the key was already past its limit (the library blocks it for blockDuration the first time).
      if (err instanceof RateLimiterRes) return countOf(err);
      throw err; // the store failed
    }
    // The limiter lets the failure that reaches `points` through within the window that began
    // with the first failure; the refusal it starts lasts a full window from now.
    if (res.consumedPoints >= this.limit) res = await this.limiter.block(key, this.windowSeconds);
    return countOf(res);
  }

  async get(key: string): Promise<FailureCount | null> {
    const res = await this.limiter.get(key);
    // The memory store drops a key on a timer; one read just before the timer fires has no time left.
    return res === null || res.msBeforeNext <= 0 ? null : countOf(res);
  }

  async delete(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

function countOf(res: RateLimiterRes): FailureCount {
  return { failures: res.consumedPoints, msLeft: res.msBeforeNext };
}
