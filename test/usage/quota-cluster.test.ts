import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { RunningClock } from '../helpers/clock.js';
import { eventually } from '../helpers/eventually.js';
import { testDatabases } from '../helpers/databases.js';
import { seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';
import { freePort } from '../helpers/server.js';
import { tokenRequest } from '../helpers/tokens.js';
import { type ServerProcess, startServerProcess } from '../helpers/spawn-server.js';
import { tampered } from '../helpers/tamper.js';

const postgres = testDatabases().filter((d) => d.name === 'postgres');

/**
 * Two server processes on one PostgreSQL database without Redis: this test process (a Runtime)
 * and a `portcullis serve` child. Usage counts are summed by the database; quota counts are
 * exchanged through it every QUOTA_SYNC_INTERVAL (docs/usage-and-quotas.md: a node sees the
 * other's tokens at most two intervals late, and no later than that).
 */
describe.each(postgres)('usage and quotas across two processes on $name', (db) => {
  let here: TestPortcullis;
  let server: ServerProcess;
  let sql: pg.Client;

  beforeAll(async () => {
    const masterKey = randomBytes(32).toString('base64');
    // The child keeps real time: so must this process, or their hours and days part at the next boundary.
    here = await startPortcullis(await db.open(), { masterKey, clock: new RunningClock(), env: { TOKEN_RATE_LIMIT: '0', QUOTA_SYNC_INTERVAL: '1', USAGE_FLUSH_INTERVAL: '1' } });
    server = await startServerProcess(await freePort(), {
      DATABASE_URL: db.url,
      MASTER_KEY: masterKey,
      ISSUER: here.config.issuer,
      LOG_LEVEL: 'warn',
      TOKEN_RATE_LIMIT: '0',
      QUOTA_SYNC_INTERVAL: '1',
      USAGE_FLUSH_INTERVAL: '1',
      SHUTDOWN_DRAIN_SECONDS: '0',
    });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  }, 60_000);

  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await here?.close();
    await db.dispose();
  });

  async function childToken(c: { clientId: string; secret: string; apiIdentifier: string }) {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
  }
  const hereToken = (c: { clientId: string; secret: string; apiIdentifier: string }) => tokenRequest(here.app, c, { grant_type: 'client_credentials', audience: c.apiIdentifier });

  /** The child's own count of the client's window, as it last wrote it. */
  async function childCount(clientId: string): Promise<{ count: number; at: number } | undefined> {
    const { rows } = await sql.query<{ count: string; updated_at: Date }>('select count, updated_at from quota_counts where key = $1 and node_id <> $2', [
      `client:${clientId}:day`,
      here.runtime.quotaSync?.nodeId,
    ]);
    const row = rows[0];
    return row ? { count: Number(row.count), at: row.updated_at.getTime() } : undefined;
  }

  it('usage counts are exact after tokens issued by both processes', async () => {
    const c = await seedClient(here.runtime);
    for (let i = 0; i < 7; i++) expect((await childToken(c)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await hereToken(c)).statusCode).toBe(200);
    expect((await childToken({ ...c, secret: tampered(c.secret) })).status).toBe(401);
    await here.runtime.usageCounter.flush();
    const report = () => here.runtime.usageReports.ofClient(c.orgId, c.clientId, {});
    // Each process flushes on its own schedule: wait until both have written everything.
    const totals = async () => {
      const data = (await report()).data;
      return { tokens: data.reduce((sum, b) => sum + b.tokens, 0), failed: data.reduce((sum, b) => sum + b.failed, 0) };
    };
    expect(await eventually(async () => JSON.stringify(await totals()) === JSON.stringify({ tokens: 12, failed: 1 })), server.output).toBe(true);
    const usage = await report();
    expect(await totals()).toEqual({ tokens: 12, failed: 1 });
    expect(usage.failed_by_error).toEqual({ invalid_client: 1 });
    // Each process knows of its own redundant tokens: 6 in the child, 4 here.
    expect(usage.redundant_tokens).toBe(10);
  });

  it('a quota holds across both processes once their counts are exchanged', async () => {
    const c = await seedClient(here.runtime);
    await here.runtime.clients.update(c.orgId, c.clientId, { token_quota: { limit: 20, per: 'day' } }, SYSTEM_ACTOR);
    for (let i = 0; i < 10; i++) expect((await childToken(c)).status).toBe(200);
    // The child has written its 10; this process reads them.
    expect(await eventually(async () => (await childCount(c.clientId))?.count === 10), server.output).toBe(true);
    await here.runtime.quotaSync?.sync();
    let issuedHere = 0;
    while ((await hereToken(c)).statusCode === 200) issuedHere++;
    expect(issuedHere).toBe(10);
    const refused = await hereToken(c);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toBe('quota_exceeded');

    // This process's 10 written; once the child has exchanged twice since, it knows of them and refuses too.
    await here.runtime.quotaSync?.sync();
    const written = Date.now();
    const exchanges = new Set<number>();
    expect(
      await eventually(async () => {
        const row = await childCount(c.clientId);
        if (row && row.at > written) exchanges.add(row.at);
        return exchanges.size >= 2;
      }),
      server.output,
    ).toBe(true);
    const childRefused = await childToken(c);
    expect(childRefused.status).toBe(429);
    expect(childRefused.body.error).toBe('quota_exceeded');
    expect(Number(childRefused.retryAfter)).toBeGreaterThan(0);
  });
});
