import { sql } from 'kysely';
import type { Executor } from '../executor.js';

/** The change feed's table (migrations/0004-change-feed.ts): numbered changes, announced with NOTIFY. */
export class ChangeRepository {
  constructor(private readonly db: Executor) {}

  /** Appends a change and announces `<seq>:<change>` on `channel`, both delivered only if the transaction commits. */
  async append(channel: string, change: string): Promise<number> {
    const { seq } = await this.db.insertInto('changes').values({ change }).returning('seq').executeTakeFirstOrThrow();
    await sql`select pg_notify(${channel}, ${`${seq}:${change}`})`.execute(this.db);
    return Number(seq);
  }

  /** The highest number handed out so far (0 for none); primary key. */
  async latest(): Promise<number> {
    const row = await this.db
      .selectFrom('changes')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    return row?.seq ? Number(row.seq) : 0;
  }

  /**
   * The changes a process that has seen up to `seq` may have missed: every later one, and any
   * numbered earlier but drawn within `marginSeconds` before it (a transaction that took its
   * number first can commit last). Undefined when `seq`'s row is gone (pruned): the caller must
   * assume it missed anything. Primary key and changes_at_idx.
   */
  async since(seq: number, marginSeconds: number): Promise<{ seq: number; change: string }[] | undefined> {
    if (seq > 0) {
      const known = await this.db.selectFrom('changes').select('seq').where('seq', '=', String(seq)).executeTakeFirst();
      if (!known) return undefined;
    }
    const rows = await this.db
      .selectFrom('changes')
      .select(['seq', 'change'])
      .where((eb) => eb.or([eb('seq', '>', String(seq)), eb('at', '>', sql<Date>`(select at from changes where seq = ${String(seq)}) - make_interval(secs => ${marginSeconds})`)]))
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), change: r.change }));
  }

  /** Forgets changes older than `before` (changes_at_idx), always keeping the latest. */
  async prune(before: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('changes')
      .where('at', '<', before)
      .where('seq', '<', (eb) => eb.selectFrom('changes').select((s) => s.fn.max('seq').as('max')))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
