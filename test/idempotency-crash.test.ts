import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabases } from './helpers/databases.js';
import { freePort, tempDataDir } from './helpers/server.js';
import { type ServerProcess, startServerProcess } from './helpers/spawn-server.js';

const PASSWORD = 'correct horse battery staple';

/**
 * A process killed (SIGKILL) after it committed a change and before it answered: a retry with
 * the same Idempotency-Key, on a restarted server, gets the stored answer, and the change was
 * applied once. The server is a real `portcullis serve` process with no test hook: the test
 * holds a lock on `role_permissions` from its own connection, so the catalog reload that runs after an
 * API's creation commits (and before the answer is sent) waits on it. Once the stored answer
 * is visible from outside, the commit has happened and the answer has not left; the process
 * is killed there.
 */
describe.each(testDatabases().filter((db) => db.name === 'postgres'))('a process killed between commit and answer, on $name', (db) => {
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    await db.dispose();
  });

  it('leaves a stored answer that the retry gets; the change is applied once', async () => {
    await (await db.open()).close();
    const databaseUrl = db.url as string;
    const masterKey = randomBytes(32).toString('base64');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const start = async () => {
      server = await startServerProcess(port, {
        DATA_DIR: tempDataDir(),
        DATABASE_URL: databaseUrl,
        MASTER_KEY: masterKey,
        LOG_LEVEL: 'warn',
        SHUTDOWN_DRAIN_SECONDS: '0',
        ADMIN_EMAIL: 'root@example.com',
        ADMIN_PASSWORD: PASSWORD,
      });
    };
    await start();
    const login = await fetch(`${url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'root@example.com', password: PASSWORD }) });
    expect(login.status).toBe(200);
    const cookie = /portcullis_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const key = randomUUID();
    const identifier = `https://crash-${randomUUID()}.example.com/`;
    const create = () =>
      fetch(`${url}/api/v1/apis`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf_token, 'idempotency-key': key },
        body: JSON.stringify({ identifier, name: 'Crash', permissions: [{ value: 'x:read', description: '' }] }),
      });

    const locker = new pg.Client({ connectionString: databaseUrl });
    const watcher = new pg.Client({ connectionString: databaseUrl });
    await Promise.all([locker.connect(), watcher.connect()]);
    try {
      await locker.query('begin');
      await locker.query('lock table role_permissions in access exclusive mode');
      const answer = create().then(
        (res) => `answered ${res.status}`,
        () => 'no answer',
      );
      const end = performance.now() + 30_000;
      let stored: { status: number; body: string } | undefined;
      while (!stored) {
        if (performance.now() > end) throw new Error(`the answer was never stored:\n${server?.output}`);
        stored = (await watcher.query<{ status: number; body: string }>('select status, body from idempotency_keys where key = $1', [key])).rows[0];
        if (!stored) await new Promise((r) => setTimeout(r, 20));
      }
      expect(stored.status).toBe(201);
      const killed = server as ServerProcess;
      const exited = once(killed.child, 'exit');
      killed.child.kill('SIGKILL');
      await exited;
      expect(await answer, killed.output).toBe('no answer');
      await locker.query('rollback');

      await start();
      const retry = await create();
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await retry.text()).toBe(stored.body);
      const apis = await watcher.query('select id from apis where identifier = $1', [identifier]);
      expect(apis.rows).toHaveLength(1);
      const events = await watcher.query("select id from audit_events where action = 'api.created' and target_id = $1", [apis.rows[0].id]);
      expect(events.rows).toHaveLength(1);
    } finally {
      await locker.end();
      await watcher.end();
    }
  }, 120_000);
});
