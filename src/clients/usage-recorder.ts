import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export interface UsageRecorderOptions {
  /**
   * A secret's use is written at most once per this many ms (last_used_at is accurate to it):
   * a busy client costs one write a minute, not one per flush.
   */
  resolutionMs?: number;
  /** Uses written per flush at most; the rest wait for the next flush (their latest time is kept). */
  maxPerFlush?: number;
  /** Uses per statement (and transaction); the event loop gets a turn between statements. */
  perStatement?: number;
}

/**
 * `last_used_at` for clients and secrets, without a database write per token:
 * uses are collected in memory and written every `intervalMs` (and on shutdown),
 * at most once per `resolutionMs` per secret, in short statements with a turn of
 * the event loop between them. The embedded database runs on the event loop, so a
 * write of thousands of rows at once (a restart of a busy platform, or 100,000
 * clients each used once) would stall token requests for a second: bounded chunks
 * keep each pause to a few milliseconds and a flush to a bounded amount of work.
 * A crash loses at most one interval of "last used" times, never anything that
 * matters for security.
 */
export class UsageRecorder {
  private pending = new Map<string, { clientId: string; secretId: string; at: Date }>();
  /** secret id → the time last written (ms), for the uses of the last `resolutionMs`. */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly resolutionMs: number;
  private readonly maxPerFlush: number;
  private readonly perStatement: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly intervalMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
    opts: UsageRecorderOptions = {},
  ) {
    this.resolutionMs = opts.resolutionMs ?? 60_000;
    this.maxPerFlush = opts.maxPerFlush ?? 2000;
    this.perStatement = opts.perStatement ?? 250;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  record(clientId: string, secretId: string, at: Date): void {
    const t = at.getTime();
    const written = this.written.get(secretId);
    if (written !== undefined && t - written < this.resolutionMs) return;
    // Uses may be reported out of order (concurrent requests): keep the latest.
    const seen = this.pending.get(secretId);
    if (!seen || seen.at.getTime() < t) this.pending.set(secretId, { clientId, secretId, at });
  }

  /** Writes what has been collected (up to maxPerFlush); safe to call concurrently (flushes run one after another). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(this.maxPerFlush)).catch(this.onError);
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.write(Infinity)).catch(this.onError);
    await this.flushing;
  }

  private async write(limit: number): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.written) if (now - at >= this.resolutionMs) this.written.delete(id);
    // Oldest first (a Map iterates in insertion order): a use waiting since the last flush goes before a new one.
    const uses: { clientId: string; secretId: string; at: Date }[] = [];
    for (const [id, use] of this.pending) {
      if (uses.length >= limit) break;
      uses.push(use);
      this.pending.delete(id);
    }
    for (let i = 0; i < uses.length; i += this.perStatement) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      const chunk = uses.slice(i, i + this.perStatement);
      await this.writeChunk(chunk);
      for (const u of chunk) this.written.set(u.secretId, Math.max(this.written.get(u.secretId) ?? 0, u.at.getTime()));
    }
  }

  private async writeChunk(uses: { clientId: string; secretId: string; at: Date }[]): Promise<void> {
    const byClient = new Map<string, Date>();
    for (const u of uses) if ((byClient.get(u.clientId)?.getTime() ?? 0) < u.at.getTime()) byClient.set(u.clientId, u.at);
    // greatest(): an older batch arriving late never moves a time backwards. Deleted clients simply match no row.
    await this.db.transaction().execute(async (trx) => {
      await sql`update client_secrets s set last_used_at = greatest(s.last_used_at, v.at)
        from (values ${sql.join(uses.map((u) => sql`(${u.secretId}, ${u.at.toISOString()}::timestamptz)`))}) as v(id, at)
        where s.id = v.id`.execute(trx);
      await sql`update clients c set last_used_at = greatest(c.last_used_at, v.at)
        from (values ${sql.join([...byClient].map(([id, at]) => sql`(${id}, ${at.toISOString()}::timestamptz)`))}) as v(id, at)
        where c.client_id = v.id`.execute(trx);
    });
  }
}
