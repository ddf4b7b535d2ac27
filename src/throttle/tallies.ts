/**
 * One key's failures: how many in the current window, when that window ends (or, past the
 * limit, when the lockout ends), and how long the entry must be kept at least (an address's
 * entry outlives its own window while a tally that depends on it, e.g. of a client_id from
 * that address, is still live).
 */
export interface Tally {
  count: number;
  resetAt: number;
  keepUntil: number;
}

/** Sweep expired entries when a map grows past this (amortized, no timer). */
const SWEEP_MIN = 1024;

/**
 * Failure counts per key in fixed windows, on the caller's clock (milliseconds): a window
 * starts with the first failure and lasts `windowMs`; the failure that reaches `limit` starts
 * a lockout of `windowMs`. Bounded: past `maxEntries` the oldest entries are forgotten first,
 * which can only let a key fail afresh, never lock one out.
 */
export class Tallies {
  private readonly entries = new Map<string, Tally>();
  private sweepAt = SWEEP_MIN;

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The key's tally if it has one to keep; its count is 0 once its window has passed. */
  live(key: string, now: number): Tally | undefined {
    const tally = this.entries.get(key);
    if (tally === undefined) return undefined;
    if (tally.keepUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    if (tally.resetAt <= now) tally.count = 0;
    return tally;
  }

  /** Milliseconds until `tally` is under its limit again; 0 when it is. */
  blockedFor(tally: Tally | undefined, now: number): number {
    return tally !== undefined && tally.count >= this.limit ? Math.max(1, tally.resetAt - now) : 0;
  }

  /** Counts one failure of `key`; returns its tally. */
  add(key: string, now: number): Tally {
    let tally = this.live(key, now);
    if (tally === undefined) {
      tally = { count: 0, resetAt: now + this.windowMs, keepUntil: now + this.windowMs };
      this.entries.set(key, tally);
      if (this.entries.size > this.sweepAt) this.sweep(now);
    } else if (tally.count === 0) {
      tally.resetAt = now + this.windowMs;
    }
    tally.count++;
    if (tally.count >= this.limit) tally.resetAt = now + this.windowMs;
    keep(tally, tally.resetAt);
    return tally;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    for (const [key, tally] of this.entries) if (tally.keepUntil <= now) this.entries.delete(key);
    // Still too many (failures from very many addresses within one window): forget the oldest,
    // down to three quarters of the bound so that the next sweep is some way off.
    if (this.entries.size > this.maxEntries) {
      let excess = this.entries.size - Math.floor(this.maxEntries * 0.75);
      for (const key of this.entries.keys()) {
        if (excess-- <= 0) break;
        this.entries.delete(key);
      }
    }
    this.sweepAt = Math.min(this.maxEntries, Math.max(SWEEP_MIN, this.entries.size * 2));
  }
}

/** Makes `tally` stay at least until `until`. */
export function keep(tally: Tally, until: number): void {
  if (until > tally.keepUntil) tally.keepUntil = until;
}
