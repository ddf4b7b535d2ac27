import type { Selectable } from 'kysely';
import type { Executor } from '../executor.js';
import type { IdempotencyKeyTable } from '../schema.js';

export type IdempotencyKeyRow = Selectable<IdempotencyKeyTable>;

/** What a stored answer replays. */
export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Idempotency keys of the management API. Not organization data: a key belongs to its caller
 * (a user or a client), and every statement names the caller first (idempotency_keys_pk).
 */
export class IdempotencyRepository {
  constructor(private readonly db: Executor) {}

  /**
   * Claims the key for a request, unless a row for it exists. On PostgreSQL a claim under way
   * in another transaction makes this wait for that transaction's end (the primary key's
   * unique check); it then returns false if that one committed.
   */
  async claim(caller: string, key: string, request: { method: string; path: string; bodyHash: string; createdAt: Date }): Promise<boolean> {
    const row = await this.db
      .insertInto('idempotency_keys')
      .values({ caller, key, method: request.method, path: request.path, body_hash: request.bodyHash, status: null, created_at: request.createdAt })
      .onConflict((c) => c.columns(['caller', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  async find(caller: string, key: string): Promise<IdempotencyKeyRow | undefined> {
    return this.db.selectFrom('idempotency_keys').selectAll().where('caller', '=', caller).where('key', '=', key).executeTakeFirst();
  }

  /** The answer to the claimed key, in the claiming transaction. */
  async answer(caller: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ status: answer.status, headers: JSON.stringify(answer.headers), body: answer.body })
      .where('caller', '=', caller)
      .where('key', '=', key)
      .execute();
  }

  /** Forgets this caller's key if it was made before `before` (it has expired). */
  async forgetIfOlder(caller: string, key: string, before: Date): Promise<void> {
    await this.db.deleteFrom('idempotency_keys').where('caller', '=', caller).where('key', '=', key).where('created_at', '<', before).execute();
  }

  /** Forgets every key made before `before` (idempotency_keys_created_idx). */
  async prune(before: Date): Promise<number> {
    const result = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
