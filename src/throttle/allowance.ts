import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { systemClock, type Clock } from '../clock.js';

/** A count's outcome: whether the request is allowed, the window's count as far as this process knows it, and when the window ends. */
export interface AllowanceResult {
  allowed: boolean;
  /** At most `points` when allowed; `points + 1` when not. */
  consumed: number;
  /** Milliseconds until the key's window ends (and its count starts again). */
  msBeforeNext: number;
}

/** Below this many keys, expired ones are not swept. */
const SWEEP_FLOOR = 1024;

interface Entry {
  /** Points taken from the shared counter and not handed out yet. */
  left: number;
  /** The shared count once those are handed out (at most `points`). */
  upTo: number;
  /** When the shared window ends, by this process's clock. */
  ends: number;
  /** The shared counter has nothing left before `ends`: refuse without asking it. */
  spent: boolean;
  /** The size of the last batch: the next one may be twice as large. */
  batch: number;
  /** Counted by the shared limiter's fallback, in this process's memory, while the shared store did not answer. */
  local: boolean;
  /** The batch being taken; requests that find nothing left wait for it rather than each asking. */
  taking?: Promise<void>;
}

const EMPTY = { left: 0, upTo: 0, ends: 0, spent: false, batch: 0, local: false } as const;

/**
 * A request-rate limit counted in a shared store (Redis) without a round trip per request.
 * Each process takes points from the shared counter in batches (one `consume` of n points,
 * which is rate-limiter-flexible's own fixed window, opened by the key's first point) and
 * hands them out from memory until they are spent; only then does it ask again. Once the
 * shared counter is spent, this process refuses the key till the window ends, also without
 * asking.
 *
 * A batch starts at one point and doubles with each further batch of the window, up to a
 * hundredth of the limit and an eighth of what the shared counter had left, so that:
 * - a limit below 200 per window is counted point by point, exactly as without batches;
 * - a busy key costs a few round trips per window instead of one per request (measured under
 *   `npm run bench`: Redis went from a third of the throughput to nothing measurable);
 * - the limit is never exceeded; what a process has taken but does not hand out (its share of
 *   the key's traffic stops) is at most a hundredth of the limit, so a fleet holds each key
 *   to within a few per cent below its limit.
 *
 * While Redis does not answer (`answering`), `shared` counts in this process's memory (its
 * insurance limiter), point by point: per-process limits, as for every other limit. What was
 * counted so is forgotten as soon as Redis answers again, so that the shared count resumes at
 * once, not when the window that began in memory ends.
 */
export class Allowance {
  private readonly entries = new Map<string, Entry>();
  private readonly largest: number;
  private sweepAt = SWEEP_FLOOR;

  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly points: number,
    private readonly answering: () => boolean = () => true,
    /** Where `ends` is read against (the shared window's length comes from the store). */
    private readonly clock: Clock = systemClock,
  ) {
    this.largest = Math.max(1, Math.floor(points / 100));
  }

  /** Keys remembered: those whose window may not be over yet (expired ones go at the next sweep). */
  get keys(): number {
    return this.entries.size;
  }

  async consume(key: string): Promise<AllowanceResult> {
    for (;;) {
      const entry = this.entryFor(key);
      if (entry.local && !entry.taking && this.answering()) Object.assign(entry, EMPTY);
      const now = this.clock.nowMs();
      if (entry.ends > now) {
        if (entry.left > 0) {
          entry.left--;
          return { allowed: true, consumed: entry.upTo - entry.left, msBeforeNext: entry.ends - now };
        }
        if (entry.spent) return { allowed: false, consumed: this.points + 1, msBeforeNext: entry.ends - now };
      }
      // Nothing left in this window (or the window is over): take a batch, once for every request waiting.
      entry.taking ??= this.take(key, entry).finally(() => (entry.taking = undefined));
      await entry.taking;
    }
  }

  private entryFor(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.sweepAt) this.sweep();
      entry = { ...EMPTY };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private async take(key: string, entry: Entry): Promise<void> {
    // A new window starts over at one point; within a window, remaining is what the shared counter had left after the last batch.
    const fresh = entry.ends <= this.clock.nowMs();
    const remaining = fresh ? this.points : this.points - entry.upTo;
    const batch = this.answering() ? Math.max(1, Math.min(fresh ? 1 : entry.batch * 2, this.largest, Math.floor(remaining / 8))) : 1;
    let res: RateLimiterRes;
    try {
      res = await this.shared.consume(key, batch);
    } catch (err) {
      // Past its points: rate-limiter-flexible rejects with the count, which says how much of the batch is ours.
      if (!(err instanceof RateLimiterRes)) throw err;
      res = err;
    }
    const before = res.consumedPoints - batch;
    const granted = Math.max(0, Math.min(batch, this.points - before));
    entry.left = granted;
    entry.upTo = before + granted;
    // At least a millisecond: a window that ends as it is counted must not send the request round again at once.
    entry.ends = this.clock.nowMs() + Math.max(1, res.msBeforeNext);
    entry.spent = entry.upTo >= this.points;
    entry.batch = batch;
    // Answered by the fallback (Redis stopped answering before or during the count).
    entry.local = !this.answering();
  }

  /** Forgets the keys whose window is over (and nothing is being taken for): at most twice the live keys are kept. */
  private sweep(): void {
    const now = this.clock.nowMs();
    for (const [key, entry] of this.entries) if (entry.ends <= now && !entry.taking) this.entries.delete(key);
    this.sweepAt = Math.max(SWEEP_FLOOR, this.entries.size * 2);
  }
}
