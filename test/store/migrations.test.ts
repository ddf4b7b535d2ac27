import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/connect.js';
import * as m0005 from '../../src/store/migrations/0005-invitations.js';
import { migrateToLatest } from '../../src/store/migrator.js';
import { testDatabases } from '../helpers/databases.js';

const TABLES_0001 = ['api_permissions', 'apis', 'audit_events', 'client_roles', 'client_secrets', 'clients', 'organizations', 'role_permissions', 'roles', 'signing_keys'];

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-store-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function tables(db: Kysely<unknown>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(db);
  return rows.map((r) => r.table_name);
}

async function applied(db: Kysely<unknown>): Promise<{ name: string; timestamp: string }[]> {
  const { rows } = await sql<{ name: string; timestamp: string }>`select name, timestamp from portcullis_migrations order by name`.execute(db);
  return rows;
}

/** Every migration the migrator knows, as a fresh database applies them. */
let allMigrations: string[];
beforeAll(async () => {
  const store = await openStore({ dataDir: 'memory://', migrate: false });
  try {
    expect(await tables(store.db as Kysely<unknown>)).toEqual([]);
    allMigrations = await migrateToLatest(store.db as Kysely<unknown>);
  } finally {
    await store.close();
  }
});

describe.each(testDatabases())('migrations on $name', (db) => {
  let dataDir: string | undefined;
  /** A fresh database, migrated by openStore. */
  const open = (): Promise<Store> => {
    if (db.name !== 'pglite') return db.open();
    dataDir = tempDir();
    return openStore({ dataDir });
  };
  /** The same database, opened again (openStore runs the migrations again). */
  const reopen = (): Promise<Store> => (db.name === 'pglite' ? openStore({ dataDir: dataDir! }) : db.reopen());

  afterAll(async () => {
    await db.dispose();
  });

  it('apply on a fresh database and are idempotent on a second openStore of it', async () => {
    expect(allMigrations[0]).toBe('0001-initial');
    expect([...allMigrations].sort()).toEqual(allMigrations);

    const first = await open();
    let records: { name: string; timestamp: string }[];
    try {
      const raw = first.db as Kysely<unknown>;
      records = await applied(raw);
      expect(records.map((r) => r.name)).toEqual(allMigrations);
      expect(await tables(raw)).toEqual(expect.arrayContaining([...TABLES_0001, 'portcullis_migrations', 'portcullis_migrations_lock']));
      expect(await migrateToLatest(raw)).toEqual([]);
      await first.db.insertInto('organizations').values({ id: 'org_survivor', name: 'Survivor' }).execute();
    } finally {
      await first.close();
    }

    const second = await reopen();
    try {
      const raw = second.db as Kysely<unknown>;
      expect(await applied(raw)).toEqual(records);
      expect(await migrateToLatest(raw)).toEqual([]);
      expect(await second.db.selectFrom('organizations').select(['id', 'name']).execute()).toEqual([{ id: 'org_survivor', name: 'Survivor' }]);
    } finally {
      await second.close();
    }
  });

  it('0005 keeps existing memberships active and marks accounts whose password came from a link unverified', async () => {
    await db.dispose(); // the database of the test above: a test database holds one at a time
    const store = await open();
    try {
      const raw = store.db as Kysely<unknown>;
      await m0005.down(raw);
      await sql`insert into organizations (id, name) values ('org_old', 'Old')`.execute(raw);
      await sql`insert into users (id, email, password_hash) values ('usr_set', 'set@example.com', 'hash'), ('usr_link', 'link@example.com', 'hash'), ('usr_pending', 'pending@example.com', null)`.execute(
        raw,
      );
      await sql`insert into memberships (org_id, user_id, role) values ('org_old', 'usr_set', 'admin'), ('org_old', 'usr_link', 'member'), ('org_old', 'usr_pending', 'member')`.execute(raw);
      await sql`insert into one_time_tokens (token_hash, kind, user_id, expires_at, used_at) values ('\\x01', 'invite', 'usr_link', now(), now()), ('\\x02', 'invite', 'usr_pending', now() + interval '1 day', null)`.execute(
        raw,
      );
      await m0005.up(raw);
      const users = await sql<{ id: string; email_verified: boolean }>`select id, email_verified from users order by id`.execute(raw);
      expect(users.rows).toEqual([
        { id: 'usr_link', email_verified: false },
        { id: 'usr_pending', email_verified: false },
        { id: 'usr_set', email_verified: true },
      ]);
      const memberships = await sql<{ user_id: string; status: string }>`select user_id, status from memberships order by user_id`.execute(raw);
      expect(memberships.rows.map((m) => m.status)).toEqual(['active', 'active', 'active']);
      const tokens = await sql<{ org_id: string | null; mailed: boolean }>`select org_id, mailed from one_time_tokens`.execute(raw);
      expect(tokens.rows).toEqual([
        { org_id: null, mailed: false },
        { org_id: null, mailed: false },
      ]);
      // New rows must say what they are.
      await expect(sql`insert into memberships (org_id, user_id, role) values ('org_old', 'usr_set', 'member')`.execute(raw)).rejects.toThrow();
    } finally {
      await store.close();
    }
  });
});

describe('PGlite DATA_DIR lock (embedded mode only)', () => {
  const open: Store[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  /** The pid a lock file names (it may add the holder's start time). */
  const lockPid = (file: string) => Number(fs.readFileSync(file, 'utf8').split(' ')[0]);

  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await once(child, 'exit');
    return pid;
  }

  it('stops a second openStore of the same DATA_DIR in this process, naming it, and releases on close', async () => {
    const dataDir = tempDir();
    const lockFile = path.join(dataDir, 'portcullis.lock');
    const first = await openStore({ dataDir });
    open.push(first);
    expect(lockPid(lockFile)).toBe(process.pid);

    await expect(openStore({ dataDir })).rejects.toThrow(`The embedded database in ${dataDir} is in use by process ${process.pid}.`);
    // The same folder by another spelling is the same lock.
    await expect(openStore({ dataDir: path.relative(process.cwd(), dataDir) + path.sep })).rejects.toThrow(`in use by process ${process.pid}`);

    // The refused attempts took nothing from the first store.
    expect(lockPid(lockFile)).toBe(process.pid);
    await first.ping();

    open.splice(0);
    await first.close();
    expect(fs.existsSync(lockFile)).toBe(false);
    open.push(await openStore({ dataDir }));
  });

  it('stops openStore while another live process holds the lock, naming that process', async () => {
    const dataDir = tempDir();
    const lockFile = path.join(dataDir, 'portcullis.lock');
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(lockFile, String(holder.pid));
      await expect(openStore({ dataDir })).rejects.toThrow(
        `The embedded database in ${dataDir} is in use by process ${holder.pid}. Stop that server first (the embedded database serves one process), or use DATABASE_URL.`,
      );
      expect(fs.readFileSync(lockFile, 'utf8')).toBe(String(holder.pid));
      // Written as a server writes it, with the holder's start time: still refused.
      const stat = fs.readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
      fs.writeFileSync(lockFile, `${holder.pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`);
      await expect(openStore({ dataDir })).rejects.toThrow(`in use by process ${holder.pid}`);
    } finally {
      holder.kill();
      await once(holder, 'exit').catch(() => {});
    }
  });

  it('takes over a lock left by a process that died, or by an earlier process with our pid', async () => {
    const dataDir = tempDir();
    const lockFile = path.join(dataDir, 'portcullis.lock');
    fs.mkdirSync(dataDir, { recursive: true });

    fs.writeFileSync(lockFile, String(await deadPid()));
    const first = await openStore({ dataDir });
    expect(lockPid(lockFile)).toBe(process.pid);
    await first.close();

    // A container restarts with the same pid (PID 1): the file names us, but we do not hold it.
    fs.writeFileSync(lockFile, String(process.pid));
    const second = await openStore({ dataDir });
    open.push(second);
    expect(lockPid(lockFile)).toBe(process.pid);
  });

  it('takes over a lock whose pid now belongs to another process, or to a zombie', async () => {
    const dataDir = tempDir();
    const lockFile = path.join(dataDir, 'portcullis.lock');
    fs.mkdirSync(dataDir, { recursive: true });
    // A live process, but not the one that wrote the lock: its start time differs (the pid was reused).
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    // A zombie: a child that exits at once under a parent that never waits for it (killed below;
    // 600 s outlasts a slow embedded start on a loaded machine). Perl, not a shell: a shell may reap
    // its background job before it execs `sleep`, and the zombie is gone.
    const parent = spawn('perl', ['-e', '$| = 1; my $pid = fork() // die; exit 0 unless $pid; print "$pid\\n"; sleep 600;'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      fs.writeFileSync(lockFile, `${other.pid} 1`);
      const first = await openStore({ dataDir });
      expect(lockPid(lockFile)).toBe(process.pid);
      await first.close();

      const zombie = Number(String((await once(parent.stdout!, 'data'))[0]).trim());
      for (let i = 0; i < 100 && !/\) Z /.test(fs.readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(fs.readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z /);
      fs.writeFileSync(lockFile, String(zombie));
      open.push(await openStore({ dataDir }));
      expect(lockPid(lockFile)).toBe(process.pid);
    } finally {
      other.kill();
      parent.kill();
    }
  });
});
