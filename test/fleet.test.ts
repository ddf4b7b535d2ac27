import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGN_IN_FAILURES_PER_ACCOUNT } from '../src/orgs/session-service.js';
import { testDatabases } from './helpers/databases.js';
import { PASSWORD, createUser } from './helpers/management.js';
import { basic, form, type SeededClient, seedClient, startPortcullis, type TestPortcullis } from './helpers/portcullis.js';
import { TEST_REDIS_URL, deleteRedisPrefix, redisAvailable, testRedisPrefix } from './helpers/redis.js';
import { freePort } from './helpers/server.js';
import { type ServerProcess, startServerProcess } from './helpers/spawn-server.js';
import { tampered } from './helpers/tamper.js';

// Above 100 a minute, the nodes take their allowance from Redis in batches (src/throttle/allowance.ts): the total must hold all the same.
const TOKEN_RATE_LIMIT = 600;
const AUTH_FAILURES_PER_CLIENT = 30;
const NODES = 3;

/** The limit, give or take 5 %: what requests spread over the nodes must get in total. */
function expectAbout(count: number, limit: number, what: string): void {
  expect(count, what).toBeGreaterThanOrEqual(Math.floor(limit * 0.95));
  expect(count, what).toBeLessThanOrEqual(Math.ceil(limit * 1.05));
}

/**
 * The fleet: three `portcullis serve` processes on one PostgreSQL database with one REDIS_URL,
 * as three nodes behind a proxy. Requests spread round-robin over them get what one process
 * would give in total: each limit counts in Redis, not per process.
 */
const postgres = redisAvailable ? testDatabases().filter((d) => d.name === 'postgres') : [];
describe.each(postgres)('three processes on $name with one Redis', (db) => {
  const prefix = testRedisPrefix();
  let seeder: TestPortcullis;
  let servers: ServerProcess[] = [];
  let urls: string[] = [];
  const output = () => servers.map((p) => p.output).join('\n');

  beforeAll(async () => {
    const masterKey = randomBytes(32).toString('base64');
    seeder = await startPortcullis(await db.open(), { masterKey });
    const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    const started = await Promise.allSettled(
      ports.map((port) =>
        startServerProcess(
          port,
          {
            DATABASE_URL: db.url,
            MASTER_KEY: masterKey,
            ISSUER: seeder.config.issuer,
            LOG_LEVEL: 'warn',
            SHUTDOWN_DRAIN_SECONDS: '0',
            REDIS_URL: TEST_REDIS_URL,
            REDIS_KEY_PREFIX: prefix,
            TOKEN_RATE_LIMIT: String(TOKEN_RATE_LIMIT),
            AUTH_FAILURES_PER_CLIENT: String(AUTH_FAILURES_PER_CLIENT),
          },
          { timeoutMs: 90_000 },
        ),
      ),
    );
    // Those that started are stopped after the suite even when another did not start.
    servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    urls = servers.map((p) => p.url);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((p) => p.stop()));
    await seeder?.close();
    await db.dispose();
    await deleteRedisPrefix(prefix);
  }, 30_000);

  /** Sends `n` requests, the i-th to node i mod 3, one at a time; counts the answers by status. */
  async function roundRobin(n: number, request: (url: string) => Promise<Response>): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const res = await request(urls[i % NODES] as string);
      await res.arrayBuffer();
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
    }
    return counts;
  }
  const token =
    (c: SeededClient, secret = c.secret) =>
    (url: string) =>
      fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(c.clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });

  it('TOKEN_RATE_LIMIT holds for the fleet, not per process', async () => {
    const c = await seedClient(seeder.runtime);
    const counts = await roundRobin(TOKEN_RATE_LIMIT * 1.5, token(c));
    expect([...counts.keys()].sort(), output()).toEqual([200, 429]);
    expectAbout(counts.get(200) ?? 0, TOKEN_RATE_LIMIT, 'tokens issued');
  }, 60_000);

  it('AUTH_FAILURES_PER_CLIENT holds for the fleet: failed guesses from one address', async () => {
    const c = await seedClient(seeder.runtime);
    const counts = await roundRobin(AUTH_FAILURES_PER_CLIENT * 1.5, token(c, tampered(c.secret, 4)));
    expect([...counts.keys()].sort(), output()).toEqual([401, 429]);
    expectAbout(counts.get(401) ?? 0, AUTH_FAILURES_PER_CLIENT, 'guesses that reached the secret check');
  }, 60_000);

  it('the sign-in limit holds for the fleet: failed passwords for one account from one address', async () => {
    const email = `fleet-${randomBytes(3).toString('hex')}@example.com`;
    await createUser(seeder.runtime, email);
    const signIn = (password: string) => (url: string) =>
      fetch(`${url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
    const counts = await roundRobin(SIGN_IN_FAILURES_PER_ACCOUNT * 2, signIn('wrong password, long enough'));
    expect([...counts.keys()].sort(), output()).toEqual([401, 429]);
    expectAbout(counts.get(401) ?? 0, SIGN_IN_FAILURES_PER_ACCOUNT, 'passwords checked');
    // Refused before the password is looked at, on every node: the right one too.
    expect(await roundRobin(NODES, signIn(PASSWORD))).toEqual(new Map([[429, NODES]]));
  }, 60_000);
});
