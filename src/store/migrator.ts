import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-accounts.js';
import * as m0003 from './migrations/0003-token-state.js';
import * as m0004 from './migrations/0004-change-feed.js';
import * as m0005 from './migrations/0005-invitations.js';
import * as m0007 from './migrations/0007-client-keys.js';

/** Numbered migrations, in order. Imported statically so the built server and the tests see the same list. */
const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-accounts': m0002,
  '0003-token-state': m0003,
  '0004-change-feed': m0004,
  '0005-invitations': m0005,
  '0007-client-keys': m0007,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration; concurrent starts on one PostgreSQL database serialize on Kysely's lock. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'portcullis_migrations',
    migrationLockTableName: 'portcullis_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
