import { sql, type Kysely } from 'kysely';

/**
 * The change feed (store/change-feed.ts): every change that a cache elsewhere must learn of,
 * numbered. A process that lost its LISTEN connection reads what it missed from here instead
 * of dropping its caches. Rows are pruned after a day by housekeeping.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('changes')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    // clock_timestamp(), not now(): the moment the number was drawn, not the transaction's start.
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn('change', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('changes_at_idx').on('changes').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('changes').ifExists().execute();
}
