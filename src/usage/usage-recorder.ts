import { systemClock, type Clock } from '../clock.js';
import type { Data } from '../store/repositories/index.js';
import type { SecretUse } from '../store/repositories/token-path.js';

export interface UsageRecorderOptions {
  /**
   * A secret's use is written at most once per this many ms (last_used_at is accurate to it):
   * a busy client costs one write a minute, not one per flush.
   */
  resolutionMs?: number;
  /**
   * Milliseconds a flush may spend writing: it writes statement after statement until this has
   * passed (at least one), and the rest waits for the next flush, its latest time kept.
   */
  flushBudgetMs?: number;
  /** Uses per statement (and transaction); the event loop gets a turn between statements. */
  perStatement?: number;
  clock?: Clock;
}

/**
 * `last_used_at` for clients and secrets, without a database write per token:
 * uses are collected in memory and written every `intervalMs` (and on shutdown),
 * at most once per `resolutionMs` per secret, in short statements with a turn of
 * the event loop between them, for at most `flushBudgetMs` per flush. The embedded
 * database runs on the event loop, so a write of thousands of rows at once (a
 * restart of a busy platform, or 100,000 clients each used once) would stall token
 * requests for a second: short statements keep each pause to a few milliseconds,
 * and the budget keeps the writing to about 1% of the time. When more clients are
 * in use than that writes, last_used_at lags (the latest use of each is kept).
 * A crash loses at most one interval of "last used" times, never anything that
 * matters for security.
 */
export class UsageRecorder {
  private pending = new Map<string, SecretUse>();
  /** secret id → the time last written (ms), for the uses of the last `resolutionMs`. */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly resolutionMs: number;
  private readonly flushBudgetMs: number;
  private readonly perStatement: number;
  private readonly clock: Clock;

  constructor(
    private readonly data: Data,
    private readonly intervalMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
    opts: UsageRecorderOptions = {},
  ) {
    this.resolutionMs = opts.resolutionMs ?? 60_000;
    this.flushBudgetMs = opts.flushBudgetMs ?? 50;
    this.perStatement = opts.perStatement ?? 250;
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  record(clientId: string, secretId: string, at: Date): void {
    const t = at.getTime();
    const written = this.written.get(secretId);
    if (written !== undefined && t - written < this.resolutionMs) return;
    // Uses may be reported out of order (concurrent requests): keep the latest. Updated in place:
    // with many clients in use, most requests find their secret already pending.
    const seen = this.pending.get(secretId);
    if (seen === undefined) this.pending.set(secretId, { clientId, secretId, at });
    else if (seen.at.getTime() < t) seen.at = at;
  }

  /** Writes what has been collected, for up to flushBudgetMs; safe to call concurrently (flushes run one after another). */
  flush(budgetMs = this.flushBudgetMs): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(budgetMs)).catch(this.onError);
    return this.flushing;
  }

  /** Stops the timer and writes everything still pending, whatever the budget. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush(Infinity);
  }

  private async write(budgetMs: number): Promise<void> {
    const started = performance.now();
    const now = this.clock.nowMs();
    for (const [id, at] of this.written) if (now - at >= this.resolutionMs) this.written.delete(id);
    while (this.pending.size > 0) {
      // Oldest first (a Map iterates in insertion order): a use waiting since the last flush goes before a new one.
      const chunk: SecretUse[] = [];
      for (const [id, use] of this.pending) {
        if (chunk.length >= this.perStatement) break;
        chunk.push(use);
        this.pending.delete(id);
      }
      await this.writeChunk(chunk);
      for (const u of chunk) this.written.set(u.secretId, Math.max(this.written.get(u.secretId) ?? 0, u.at.getTime()));
      if (this.pending.size === 0 || performance.now() - started >= budgetMs) return;
      // A turn of the event loop between statements: token requests waiting for it go first.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async writeChunk(uses: SecretUse[]): Promise<void> {
    await this.data.transaction((tx) => tx.tokenPath.recordUses(uses));
  }
}
