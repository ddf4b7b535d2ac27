import fs from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import type { Tracer } from '@opentelemetry/api';
import { Kysely, PostgresDialect, sql, type LogEvent } from 'kysely';
import type { Client } from 'pg';
import { DEFAULT_EMBEDDED_SHARED_BUFFERS_MB } from '../config.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { ChangeTransport } from './change-feed.js';
import { migrateToLatest } from './migrator.js';
import { dataOf, type Data } from './repositories/index.js';
import type { Database } from './schema.js';

export type StoreKind = 'pglite' | 'postgres';

/** Who watches the store: every statement (its Kysely operation node kind, seconds, failure) and, with tracing on, every transaction. */
export interface StoreTelemetry {
  queries?: (kind: string, seconds: number, failed: boolean) => void;
  tracer?: Tracer | undefined;
}

/** The connections of the store's pool at one instant. */
export interface PoolUsage {
  /** Connections the pool may open (1 for the embedded database). */
  max: number;
  /** Open now. */
  total: number;
  /** Open and not in use. */
  idle: number;
  /** Statements and transactions waiting for a connection. */
  waiting: number;
}

/** The database, whichever it is, and the few things beyond queries that differ between the two. */
export interface Store extends ChangeTransport {
  readonly kind: StoreKind;
  /** For the store's own modules and for tests; the domain goes through `data`. */
  readonly db: Kysely<Database>;
  /** The repositories and transactions the domain services use. */
  readonly data: Data;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  /**
   * Sets (or with undefined, removes) who watches the store: one hook at the executor (Kysely's
   * query log) and one at the transaction runner, rather than one in every repository.
   */
  instrument(telemetry: StoreTelemetry | undefined): void;
  /** The pool's connections now (read when the metrics are scraped). */
  poolUsage(): PoolUsage;
  /**
   * Housekeeping the database does not do by itself: the embedded database runs PostgreSQL in
   * single-user mode, where autovacuum never runs, so this vacuums and analyzes it (dead rows
   * of `last_used_at` updates, planner statistics). A PostgreSQL server's autovacuum does both.
   */
  maintain(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** A postgres:// URL; without it, the embedded database. */
  databaseUrl?: string | undefined;
  /** Folder of the embedded database; `memory://` for a throwaway one (tests). */
  dataDir?: string;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  poolSize?: number;
  /**
   * shared_buffers of the embedded database in MB (default DEFAULT_EMBEDDED_SHARED_BUFFERS_MB, 16). PostgreSQL touches all of it at
   * start, so it is resident memory whether used or not: PGlite's default (128 MB) was a third of
   * the server's RSS. One process's clients and catalog fit in far less, and the OS page cache
   * holds the database files anyway.
   */
  sharedBuffersMb?: number;
  /** Milliseconds between attempts to restore a lost LISTEN connection (default 1000). */
  listenRetryMs?: number;
  /** PostgreSQL deadlines in milliseconds (defaults 3 s and 10 s): a connection, and a statement on the server and on the wire. */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10, options.listenRetryMs ?? 1000, {
        connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
        statement_timeout: options.statementTimeoutMs ?? 10_000,
        query_timeout: options.statementTimeoutMs ?? 10_000,
      })
    : await openPGlite(options.dataDir ?? './data', options.sharedBuffersMb ?? DEFAULT_EMBEDDED_SHARED_BUFFERS_MB);
  try {
    if (options.migrate !== false) await migrateToLatest(store.db as Kysely<unknown>);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * How long a request waits for the database: a connection, a statement on the server and an
 * answer on the wire (DATABASE_CONNECT_TIMEOUT, DATABASE_STATEMENT_TIMEOUT). Housekeeping and
 * migrations fit well inside the defaults.
 */
interface Deadlines {
  connectionTimeoutMillis: number;
  statement_timeout: number;
  query_timeout: number;
}

async function openPostgres(url: string, poolSize: number, listenRetryMs: number, deadlines: Deadlines): Promise<Store> {
  // Imported only here: a server on the embedded database never loads the driver.
  const { default: pg } = await import('pg');
  // Deadlines, so a database that is down or frozen answers 503 in seconds instead of hanging requests.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, ...deadlines });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  // A client checked out when the server goes away emits 'error' too; its query fails (and is
  // answered 503), but an 'error' event nobody listens to would end the process.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const observed = observable();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: observed.log });
  const listeners: Client[] = [];
  let closed = false;

  const listen: Store['listen'] = async (channel, handlers) => {
    const connect = async (): Promise<void> => {
      // Named, so that operators see it in pg_stat_activity (and tests can cut it).
      const client = new pg.Client({ connectionString: url, application_name: 'portcullis-listener', connectionTimeoutMillis: deadlines.connectionTimeoutMillis });
      client.on('notification', (msg) => {
        if (msg.channel === channel) handlers.onMessage(msg.payload ?? '');
      });
      let lost = false;
      const onLost = () => {
        if (lost) return;
        lost = true;
        const i = listeners.indexOf(client);
        if (i >= 0) listeners.splice(i, 1);
        client.end().catch(() => {});
        if (closed) return;
        handlers.onLost?.();
        setTimeout(reconnect, listenRetryMs).unref();
      };
      // Until it listens, a failure is the attempt's (retried by `reconnect`), not a lost connection.
      const ignore = () => {};
      client.on('error', ignore);
      try {
        await client.connect();
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        client.end().catch(() => {});
        throw err;
      }
      client.off('error', ignore);
      client.on('error', onLost);
      client.on('end', onLost);
      listeners.push(client);
    };
    const reconnect = (): void => {
      connect().then(
        () => handlers.onRestored?.(),
        () => {
          if (!closed) setTimeout(reconnect, listenRetryMs).unref();
        },
      );
    };
    await connect();
  };

  return {
    kind: 'postgres',
    db,
    data: dataOf(db, observed.telemetry),
    listen,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    maintain: async () => {},
    instrument: observed.set,
    // node-postgres's own counts; LISTEN connections are not the pool's.
    poolUsage: () => ({ max: poolSize, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      closed = true;
      await Promise.all(listeners.map((c) => c.end().catch(() => {})));
      await db.destroy();
    },
  };
}

/**
 * PGlite runs one backend in single-user mode, yet PostgreSQL sizes its shared memory (process
 * slots, lock tables, AIO handles) for every connection, replication sender and autovacuum worker
 * it could have: 4 MB resident for slots nothing ever takes. The lock table that remains still
 * holds the locks of a transaction creating a few hundred tables.
 */
const SINGLE_BACKEND_PARAMS = ['max_connections=1', 'max_wal_senders=0', 'autovacuum_worker_slots=1'];

/**
 * How V8 compiles the embedded database's WebAssembly (about 9 MB of PostgreSQL): each
 * function when it is first called, not all of them at start, and by the baseline compiler
 * only, never tiered up to the optimizing one in the background. Measured on Node 20 (2,000
 * to 20,000 inserts and lookups): 25 to 70 MB less resident memory (the optimizing compiler's
 * memory stays with the allocator once freed), starts 80 ms sooner, queries 0 to 4% slower;
 * the token path seldom reaches the database. Set before the module is compiled, which is when
 * V8 reads them; they concern this process's WebAssembly alone (docs/performance.md, Memory).
 */
function compileEmbeddedDatabaseLean(): void {
  setFlagsFromString('--wasm-lazy-compilation');
  setFlagsFromString('--liftoff-only');
}

async function openPGlite(dataDir: string, sharedBuffersMb: number): Promise<Store> {
  compileEmbeddedDatabaseLean();
  let lock: (() => void) | undefined;
  let pglite: PGlite;
  const settings = [`shared_buffers=${sharedBuffersMb}MB`, ...SINGLE_BACKEND_PARAMS];
  const options = { startParams: [...PGlite.defaultStartParams, ...settings.flatMap((setting) => ['-c', setting])] };
  if (dataDir.startsWith('memory://')) {
    pglite = await PGlite.create(dataDir, options);
  } else {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    lock = takeLock(path.resolve(dataDir, 'portcullis.lock'));
    try {
      pglite = await PGlite.create(path.join(dataDir, 'pglite'), options);
    } catch (err) {
      lock();
      throw err;
    }
  }
  const observed = observable();
  const dialect = new PGliteDialect(pglite);
  const db = new Kysely<Database>({ dialect, log: observed.log });
  return {
    kind: 'pglite',
    db,
    data: dataOf(db, observed.telemetry),
    // In-process: the connection cannot be lost.
    listen: async (channel, handlers) => {
      await pglite.listen(channel, handlers.onMessage);
    },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    maintain: async () => {
      await sql`vacuum analyze`.execute(db);
    },
    instrument: observed.set,
    // One connection, always open, handed to one holder at a time (pglite-dialect.ts).
    poolUsage: () => ({ max: 1, total: 1, idle: dialect.usage.held ? 0 : 1, waiting: dialect.usage.waiting }),
    close: async () => {
      await db.destroy();
      await pglite.close();
      lock?.();
    },
  };
}

/**
 * Kysely's `log` option and the transaction runner's tracing, forwarding to the telemetry set
 * later (the store is opened before the runtime that measures it). Kysely times a statement
 * only when logging is on: one performance.now() pair per statement.
 */
function observable(): { log: (event: LogEvent) => void; telemetry: StoreTelemetry; set: Store['instrument'] } {
  const telemetry: StoreTelemetry = {};
  return {
    log: (event) => telemetry.queries?.(event.query.query.kind, event.queryDurationMillis / 1000, event.level === 'error'),
    telemetry,
    set: (next) => {
      telemetry.queries = next?.queries;
      telemetry.tracer = next?.tracer;
    },
  };
}

/** Another live process holds the embedded database's folder. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/** Lock files this process holds (a second open in the same process must be refused too). */
const heldLocks = new Set<string>();

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it.
 * A lock file with our pid (and, where /proc exists, the process's start time) keeps a second
 * server (or `portcullis keys rotate`) out while one runs.
 */
function takeLock(file: string): () => void {
  const mine = lockHolder(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx', mode: 0o600 });
      heldLocks.add(file);
      return () => {
        heldLocks.delete(file);
        fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText = '', startTime] = fs.readFileSync(file, 'utf8').trim().split(' ');
      const pid = Number(pidText);
      // Our own pid is a live holder only if this process took the lock; otherwise it was left by an
      // earlier process that had the same pid (PID 1 in every container start).
      if (Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid ? heldLocks.has(file) : holdsLock(pid, startTime))) {
        throw new DataDirInUseError(
          `The embedded database in ${path.dirname(file)} is in use by process ${pid}. Stop that server first (the embedded database serves one process), or use DATABASE_URL.`,
        );
      }
      fs.rmSync(file, { force: true }); // left by a process that died
    }
  }
  throw new Error(`Could not lock ${file}`);
}

/** What a lock file says of its holder: `<pid>`, and ` <start time>` where /proc tells it. */
function lockHolder(pid: number): string {
  const started = procStat(pid)?.startTime;
  return started === undefined ? String(pid) : `${pid} ${started}`;
}

/**
 * Whether process `pid` is the live process that wrote the lock: it exists, is not a zombie
 * (a server killed with -9 whose parent has not reaped it yet), and, when the file recorded a
 * start time, started then (not another process that was given the same pid since).
 */
function holdsLock(pid: number, startTime: string | undefined): boolean {
  const stat = procStat(pid);
  if (stat === undefined) return isAlive(pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || startTime === stat.startTime;
}

/**
 * `/proc/<pid>/stat`'s state and start time (clock ticks after boot); `null` when the process
 * does not exist, `undefined` where there is no /proc (then only `kill(pid, 0)` can tell).
 */
function procStat(pid: number): { state: string; startTime: string } | null | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fs.existsSync('/proc/self/stat') ? null : undefined;
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, startTime] = [fields[0], fields[19]];
  return state !== undefined && startTime !== undefined ? { state, startTime } : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
