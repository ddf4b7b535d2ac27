import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * `last_used_at` for clients and secrets, without a database write per token:
 * uses are collected in memory and written in one statement per table every
 * `intervalMs` (and on shutdown). A crash loses at most one interval of
 * "last used" times, never anything that matters for security.
 */
export class UsageRecorder {
  private pending = new Map<string, { clientId: string; secretId: string; at: Date }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly intervalMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  record(clientId: string, secretId: string, at: Date): void {
    // Uses may be reported out of order (concurrent requests): keep the latest.
    const seen = this.pending.get(secretId);
    if (!seen || seen.at.getTime() < at.getTime()) this.pending.set(secretId, { clientId, secretId, at });
  }

  /** Writes what has been collected; safe to call concurrently (flushes run one after another). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write()).catch(this.onError);
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const uses = [...this.pending.values()];
    this.pending = new Map();
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
