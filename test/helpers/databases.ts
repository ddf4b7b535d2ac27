import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/connect.js';

/**
 * The two databases every storage test runs on. PGlite is always there. PostgreSQL
 * is the server at TEST_DATABASE_URL (default: the local one, trust auth); each test
 * file gets a fresh database of its own, dropped afterwards, so runs never collide.
 * Outside CI a missing server skips its suites with a message; in CI it fails them.
 */
export interface TestDatabase {
  name: 'pglite' | 'postgres';
  /** A store on a fresh, migrated database. */
  open(): Promise<Store>;
  /** Reopens the database the last `open()` made (restart tests). */
  reopen(): Promise<Store>;
  /** Drops what `open()` made. */
  dispose(): Promise<void>;
  /** For PostgreSQL: the URL of the database `open()` made. */
  url?: string;
}

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const pgAvailable = await postgresReachable();
if (!pgAvailable) {
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is not reachable at ${ADMIN_URL}; CI must run the PostgreSQL suite.`);
  console.warn(`[portcullis tests] PostgreSQL not reachable at ${ADMIN_URL}: skipping the PostgreSQL suites (set TEST_DATABASE_URL).`);
}

function pgliteDatabase(): TestDatabase {
  return {
    name: 'pglite',
    open: () => openStore({ dataDir: 'memory://' }),
    reopen: () => {
      throw new Error('an in-memory PGlite cannot be reopened; use a DATA_DIR');
    },
    dispose: async () => {},
  };
}

function postgresDatabase(): TestDatabase {
  let dbName: string | undefined;
  const self: TestDatabase = {
    name: 'postgres',
    async open() {
      dbName = `portcullis_test_${process.pid}_${randomBytes(4).toString('hex')}`;
      await admin(`create database ${dbName}`);
      const url = new URL(ADMIN_URL);
      url.pathname = `/${dbName}`;
      self.url = url.toString();
      return openStore({ databaseUrl: self.url, poolSize: 4 });
    },
    async reopen() {
      if (!self.url) throw new Error('open() first');
      return openStore({ databaseUrl: self.url, poolSize: 4 });
    },
    async dispose() {
      if (dbName) await admin(`drop database if exists ${dbName} with (force)`);
      dbName = undefined;
    },
  };
  return self;
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** `describe.each(testDatabases())`-ready list; PostgreSQL is left out (with the warning above) when unreachable outside CI. */
export function testDatabases(): TestDatabase[] {
  return pgAvailable ? [pgliteDatabase(), postgresDatabase()] : [pgliteDatabase()];
}
