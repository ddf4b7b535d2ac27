import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/connect.js';
import { testDatabases } from '../helpers/databases.js';

describe.each(testDatabases())('Store.maintain on $name', (db) => {
  let store: Store | undefined;
  afterAll(async () => {
    await store?.close();
    await db.dispose();
  });

  it('leaves the tables analyzed on the embedded database (no autovacuum there); a no-op on a server', async () => {
    store = await db.open();
    const now = new Date();
    await store.db.insertInto('organizations').values({ id: 'org_maint', name: 'Maintenance', created_at: now, updated_at: now }).execute();
    const reltuples = async () => Number((await sql<{ reltuples: number }>`select reltuples from pg_class where relname = 'organizations'`.execute(store!.db)).rows[0]?.reltuples);
    // reltuples is -1 until a table is first vacuumed or analyzed (PostgreSQL 14+); one row is far
    // below autovacuum's threshold, so on a server nothing else analyzes it during the test.
    expect(await reltuples()).toBe(-1);
    await store.maintain();
    expect(await reltuples()).toBe(db.name === 'pglite' ? 1 : -1);
    expect((await store.db.selectFrom('organizations').select('id').execute()).map((r) => r.id)).toEqual(['org_maint']);
  });
});
