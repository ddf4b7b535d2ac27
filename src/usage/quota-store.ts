import type { QuotaCount } from '../store/repositories/usage.js';
import { fromEpochMs } from '../clock.js';

/** One quota window of a client or an organization: at most `limit` tokens in [start, end) (ms). */
export interface QuotaWindow {
  key: string;
  limit: number;
  start: number;
  end: number;
}

/**
 * Where quota counts live. The in-process store below (with the other nodes' counts learned
 * through the database, ./quota-sync.ts) is the default; a shared store (Redis, with
 * REDIS_URL) implements the same two calls, `take` in one round trip.
 */
export interface QuotaStore {
  /** Counts one token in every window unless one of them is full: then nothing is counted and that window is the answer. */
  take(windows: readonly QuotaWindow[]): QuotaWindow | undefined | Promise<QuotaWindow | undefined>;
  /** Gives back what `take` counted: the request failed after all, no token was issued. */
  giveBack(windows: readonly QuotaWindow[]): void | Promise<void>;
}

interface Own {
  start: number;
  count: number;
}

/**
 * Quota counts in this process: this process's exact counts plus, through `others`, what the
 * other nodes had counted when last heard of. Taking is synchronous: no promise on the token path.
 */
export class LocalQuotaStore implements QuotaStore {
  private readonly own = new Map<string, Own>();

  constructor(private readonly others: (key: string, start: number) => number = () => 0) {}

  take(windows: readonly QuotaWindow[]): QuotaWindow | undefined {
    for (const w of windows) if (this.ownCount(w) + this.others(w.key, w.start) >= w.limit) return w;
    for (const w of windows) {
      const entry = this.own.get(w.key);
      if (entry && entry.start === w.start) entry.count++;
      else this.own.set(w.key, { start: w.start, count: 1 });
    }
    return undefined;
  }

  giveBack(windows: readonly QuotaWindow[]): void {
    for (const w of windows) {
      const entry = this.own.get(w.key);
      if (entry && entry.start === w.start && entry.count > 0) entry.count--;
    }
  }

  /** This process's counts of the windows still running at `now` (what ./quota-sync.ts publishes); ended ones are forgotten. */
  current(now: number, windowEnd: (key: string, start: number) => number): QuotaCount[] {
    const out: QuotaCount[] = [];
    for (const [key, entry] of this.own) {
      if (windowEnd(key, entry.start) <= now) this.own.delete(key);
      else out.push({ key, windowStart: fromEpochMs(entry.start), count: entry.count });
    }
    return out;
  }

  private ownCount(w: QuotaWindow): number {
    const entry = this.own.get(w.key);
    return entry && entry.start === w.start ? entry.count : 0;
  }
}
