import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/connect.js';
import { createUser, PASSWORD } from '../helpers/management.js';
import { type OwnPostgres, ownPostgresMissing, startOwnPostgres } from '../helpers/own-postgres.js';
import { basic, form, type SeededClient, seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';

const missing = ownPostgresMissing();
if (missing && process.env.CI === 'true') throw new Error(`the database outage tests must run in CI: ${missing}`);
if (missing) console.warn(`[portcullis tests] skipping the database outage tests: ${missing}`);

/** What the contract promises: an answer "within a few seconds, never a hang". Generous: the deadlines here are 2 s to connect, 3 s per statement. */
const PROMISED_MS = 15_000;

/**
 * The database stopped or frozen under a running server, on a PostgreSQL of the test's own
 * (never the shared one): answers are 503 with Retry-After within seconds, never 500 and never
 * a hang; tokens for clients the server holds in memory go on; it recovers by itself.
 */
describe.skipIf(missing !== undefined)('a database that is down or frozen', () => {
  let pg: OwnPostgres;
  let p: TestPortcullis;
  let cached: SeededClient;
  let uncached: SeededClient;
  /** Cached too, but its token answer carries a refresh token, which must be written. */
  let refreshing: SeededClient;
  const errors: string[] = [];

  beforeAll(async () => {
    pg = await startOwnPostgres();
    p = await startPortcullis(await openStore({ databaseUrl: pg.url, poolSize: 4, connectTimeoutMs: 2000, statementTimeoutMs: 3000 }), {
      env: { LOG_LEVEL: 'warn' },
      logStream: {
        write(line) {
          if ((JSON.parse(line) as { level: number }).level >= 50) errors.push(line);
        },
      },
    });
    await createUser(p.runtime, 'admin@example.com', { platformAdmin: true });
    cached = await seedClient(p.runtime);
    uncached = await seedClient(p.runtime);
    refreshing = await seedClient(p.runtime, { refreshTokens: true });
    expect((await token(cached)).statusCode).toBe(200); // now in the snapshot cache
    expect((await token(refreshing)).statusCode).toBe(200);
    p.runtime.clientSnapshots.evict(uncached.clientId);
  }, 120_000);
  afterAll(async () => {
    pg?.thaw();
    await p?.close().catch(() => {});
    pg?.dispose();
  });

  const token = (c: SeededClient) =>
    p.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { authorization: basic(c.clientId, c.secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
    });
  const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = performance.now();
    const value = await work();
    return { value, ms: performance.now() - started };
  };

  async function expectUnavailable() {
    const ready = await timed(() => p.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.value.statusCode).toBe(503);
    expect(ready.ms).toBeLessThan(PROMISED_MS);

    const refused = await timed(() => token(uncached));
    expect(refused.value.statusCode).toBe(503);
    expect(refused.value.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(refused.value.headers['retry-after']).toBe('5');
    expect(refused.value.headers['cache-control']).toBe('no-store');
    expect(refused.ms).toBeLessThan(PROMISED_MS);

    const signIn = await timed(() => p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'admin@example.com', password: PASSWORD } }));
    expect(signIn.value.statusCode).toBe(503);
    expect(signIn.value.json()).toEqual({ error: 'unavailable', message: expect.any(String) });
    expect(signIn.value.headers['retry-after']).toBe('5');
    expect(signIn.ms).toBeLessThan(PROMISED_MS);

    // Served from memory: the client's snapshot, the catalog and the keys are all in the process.
    expect((await token(cached)).statusCode).toBe(200);

    // Signed, but its refresh token cannot be written: 503, and no token is counted as issued.
    const unwritten = await token(refreshing);
    expect(unwritten.statusCode).toBe(503);
    expect(unwritten.json()).toMatchObject({ error: 'temporarily_unavailable' });
  }

  async function recovers() {
    const end = performance.now() + 30_000;
    while ((await p.app.inject({ method: 'GET', url: '/readyz' })).statusCode !== 200) {
      if (performance.now() > end) throw new Error('not ready again within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await token(uncached)).statusCode).toBe(200);
  }

  /** The tokens the client's usage says were issued this hour. */
  async function issuedTo(c: SeededClient): Promise<number> {
    await p.runtime.usageCounter.flush();
    const usage = await p.runtime.usageReports.ofClient(c.orgId, c.clientId, {});
    return usage.data.reduce((sum, bucket) => sum + bucket.tokens, 0);
  }

  it('stopped: 503 with Retry-After within seconds, cached clients still get tokens, and it recovers', async () => {
    pg.stop();
    await expectUnavailable();
    pg.start();
    await recovers();
    // Only the token answered before the outage.
    expect(await issuedTo(refreshing)).toBe(1);
  }, 120_000);

  it('frozen (SIGSTOP): the same, within the deadlines rather than for as long as it stays frozen', async () => {
    p.runtime.clientSnapshots.evict(uncached.clientId);
    pg.freeze();
    try {
      await expectUnavailable();
    } finally {
      pg.thaw();
    }
    await recovers();
  }, 120_000);

  it('logged nothing at error level', () => {
    expect(errors).toEqual([]);
  });
});
