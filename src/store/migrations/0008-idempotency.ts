import { sql, type Kysely } from 'kysely';

/**
 * Idempotency keys of the management API (src/idempotency/): one row per caller and
 * `Idempotency-Key`, written in the same transaction as the change it answers, so a retry
 * after a lost answer (even a process killed between the commit and the answer) gets the
 * stored answer instead of applying the change again. The answer's body never holds a
 * secret: `client_secret` and `invite_url` are removed before it is stored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    // `user:<id>` or `client:<client_id>`: a key is the caller's own, never shared between callers.
    .addColumn('caller', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    // The request it answers: a repeat with another method, path or body is refused.
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('body_hash', 'text', (c) => c.notNull())
    // Null only inside the transaction that claims the key: the answer is written before it commits.
    .addColumn('status', 'integer')
    // A JSON object of the headers that belong to the answer (content-type, cache-control, location).
    .addColumn('headers', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['caller', 'key'])
    .execute();
  // Housekeeping deletes by age.
  await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
}
