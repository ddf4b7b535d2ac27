import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { SIGN_IN_FAILURES_PER_ACCOUNT } from '../../src/orgs/session-service.js';
import { memoryLimiters, redisLimiters } from '../../src/throttle/limiters.js';
import { RunningClock } from '../helpers/clock.js';
import { testDatabases } from '../helpers/databases.js';
import { PASSWORD, createUser } from '../helpers/management.js';
import { seedClient, startPortcullis, type TestPortcullis } from '../helpers/portcullis.js';
import { TEST_REDIS_URL, deleteRedisPrefix, redisAvailable, redisKeys, sharedRedisConnections, testRedisPrefix } from '../helpers/redis.js';
import { tokenRequest } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

describe.skipIf(!redisAvailable)('limiters in Redis', () => {
  const prefix = testRedisPrefix();
  const { open } = sharedRedisConnections(prefix);

  it('count together across connections (processes) under one prefix, in keys named <prefix><name>:<key>', async () => {
    const [a, b] = [await open(), await open()];
    const spec = { name: 'quota', points: 5, durationSeconds: 60 };
    const [onA, onB] = [redisLimiters(a).create(spec), redisLimiters(b).create(spec)];
    expect(redisLimiters(a).shared).toBe(true);
    for (let i = 1; i <= 5; i++) expect((await (i % 2 ? onA : onB).consume('client-1')).consumedPoints).toBe(i);
    await expect(onB.consume('client-1')).rejects.toMatchObject({ consumedPoints: 6, remainingPoints: 0 });
    expect((await onA.consume('client-2')).consumedPoints).toBe(1); // another key
    expect((await redisKeys(prefix)).sort()).toEqual([`${prefix}quota:client-1`, `${prefix}quota:client-2`]);
    expect(a.fallbackCount + b.fallbackCount).toBe(0);
  });

  it('never share a count with another prefix (deployment)', async () => {
    const other = `${prefix}other:`;
    const spec = { name: 'quota-2', points: 2, durationSeconds: 60 };
    const [mine, theirs] = [redisLimiters(await open()).create(spec), redisLimiters(await open(other)).create(spec)];
    await mine.consume('k', 2);
    expect((await theirs.consume('k')).consumedPoints).toBe(1);
  });

  it('in memory (no REDIS_URL), each limiter counts on its own', async () => {
    const spec = { name: 'quota-3', points: 2, durationSeconds: 60 };
    expect(memoryLimiters.shared).toBe(false);
    const [one, two] = [memoryLimiters.create(spec), memoryLimiters.create(spec)];
    await one.consume('k', 2);
    expect((await two.consume('k')).consumedPoints).toBe(1);
  });
});

/**
 * Every limit that counts requests or failures, on two Portcullis processes (two runtimes and
 * apps on one PostgreSQL database, as two nodes would be) with one REDIS_URL: requests that
 * alternate between them meet the limit of one process, in total.
 */
const postgres = redisAvailable ? testDatabases().filter((d) => d.name === 'postgres') : [];
describe.each(postgres)('limits shared through Redis by two processes on $name', (db) => {
  const prefix = testRedisPrefix();
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_RATE_LIMIT: '6',
    AUTH_FAILURES_PER_CLIENT: '4',
    MANAGEMENT_RATE_LIMIT: '14', // above the sign-in test's requests from one address
    // Longer than the test: the nodes never learn each other's quota counts through the database, only through Redis.
    QUOTA_SYNC_INTERVAL: '60',
  };
  let nodes: [TestPortcullis, TestPortcullis];
  /** The node for the i-th request: they alternate. */
  const node = (i: number) => nodes[i % 2] as TestPortcullis;

  beforeAll(async () => {
    const masterKey = randomBytes(32).toString('base64');
    // One clock that keeps real time, as Redis does when it expires a quota window's key.
    const clock = new RunningClock();
    const first = await startPortcullis(await db.open(), { env, masterKey, clock });
    nodes = [first, await startPortcullis(await db.reopen(), { env, masterKey, clock })];
    expect(nodes.map((n) => n.runtime.limiters.shared)).toEqual([true, true]);
  });
  afterAll(async () => {
    for (const n of nodes ?? []) await n.close();
    await db.dispose();
    await deleteRedisPrefix(prefix);
  });

  it('TOKEN_RATE_LIMIT: per client and address across both, then 429 with Retry-After on either', async () => {
    const c = await seedClient(node(0).runtime);
    for (let i = 0; i < 6; i++) expect((await tokenRequest(node(i).app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.7.0.1' })).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) {
      const limited = await tokenRequest(node(i).app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.7.0.1' });
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ error: 'too_many_requests' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // The same client from another address has an allowance of its own.
    expect((await tokenRequest(node(1).app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.7.0.2' })).statusCode).toBe(200);
    expect(await redisKeys(`${prefix}token-rate:POST/oauth/token:client:${c.clientId}@`)).toHaveLength(2);
  });

  it('AUTH_FAILURES_PER_CLIENT: failed guesses from one address count across both; the client from elsewhere gets its token', async () => {
    const c = await seedClient(node(0).runtime);
    const guess = { ...c, secret: tampered(c.secret, 4) };
    for (let i = 0; i < 4; i++) expect((await tokenRequest(node(i).app, guess, { audience: c.apiIdentifier }, { remoteAddress: '10.8.0.1' })).statusCode).toBe(401);
    for (let i = 0; i < 2; i++) {
      // Refused before the secret is looked at: the right one too.
      const refused = await tokenRequest(node(i).app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.8.0.1' });
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ error: 'too_many_requests' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect((await tokenRequest(node(1).app, c, { audience: c.apiIdentifier }, { remoteAddress: '10.8.0.2' })).statusCode).toBe(200);
  });

  it('sign-in: failed passwords for one account from one address count across both', async () => {
    const email = `shared-${randomBytes(3).toString('hex')}@example.com`;
    await createUser(node(0).runtime, email);
    const signIn = (i: number, password: string, remoteAddress: string) => node(i).app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress, payload: { email, password } });
    for (let i = 0; i < SIGN_IN_FAILURES_PER_ACCOUNT; i++) expect((await signIn(i, 'wrong password, long enough', '10.9.0.1')).statusCode).toBe(401);
    for (let i = 0; i < 2; i++) {
      const refused = await signIn(i, PASSWORD, '10.9.0.1');
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ error: 'rate_limited' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect((await signIn(1, PASSWORD, '10.9.0.2')).statusCode).toBe(200);
  });

  it('token quotas: exact across both, in Redis, with no exchange through the database', async () => {
    const c = await seedClient(node(0).runtime);
    await node(0).runtime.clients.update(c.orgId, c.clientId, { token_quota: { limit: 5, per: 'day' } }, SYSTEM_ACTOR);
    // Spread over addresses, so that TOKEN_RATE_LIMIT (per client and address) is not what refuses.
    const ask = (i: number) => tokenRequest(node(i).app, c, { audience: c.apiIdentifier }, { remoteAddress: `10.11.0.${i + 1}` });
    for (let i = 0; i < 5; i++) expect((await ask(i)).statusCode).toBe(200);
    for (let i = 5; i < 7; i++) {
      const refused = await ask(i);
      expect(refused.statusCode).toBe(429);
      expect(refused.json()).toMatchObject({ error: 'quota_exceeded' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(await redisKeys(`${prefix}quota:client:${c.clientId}:day:`)).toHaveLength(1);
  });

  it('MANAGEMENT_RATE_LIMIT: per address across both', async () => {
    const get = (i: number, remoteAddress: string) => node(i).app.inject({ method: 'GET', url: '/api/v1/organizations', remoteAddress });
    for (let i = 0; i < 14; i++) expect((await get(i, '10.10.0.1')).statusCode).toBe(401);
    const limited = await get(0, '10.10.0.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect((await get(1, '10.10.0.2')).statusCode).toBe(401);
  });

  it('/metrics says Redis is up and nothing fell back', async () => {
    const metrics = (await node(0).app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^portcullis_redis_up 1$/m);
    expect(metrics).toMatch(/^portcullis_redis_fallbacks_total 0$/m);
  });
});
