import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import { SharedRedis } from '../../src/store/redis.js';
import { redisLimiters } from '../../src/throttle/limiters.js';
import { type SeededClient, basic, form, seedClient } from '../helpers/portcullis.js';
import { type OwnRedis, ownRedisMissing, startOwnRedis } from '../helpers/redis.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

const missing = ownRedisMissing();
if (missing && process.env.CI === 'true') throw new Error(`the Redis outage tests need their own Redis: ${missing}`);
if (missing) console.warn(`[portcullis tests] skipping the Redis outage tests: ${missing}`);

/** Generous: an answer that takes this long has waited for Redis, which nothing may. */
const DEADLINE_MS = 3000;
const LIMIT = 4;

/**
 * Redis (our own redis-server) killed, restarted, frozen and thawed under a running server with
 * REDIS_URL: token requests are answered throughout, promptly, under a per-process limit while
 * Redis does not answer and under the shared one once it does again; /readyz stays 200 and
 * /metrics tells.
 */
describe.skipIf(missing !== undefined)('a server whose Redis goes away and comes back', () => {
  let redis: OwnRedis;
  let server: RunningServer & { issuer: string };
  let counters: Redis;

  beforeAll(async () => {
    redis = await startOwnRedis();
    server = await startRealServer({
      dataDir: tempDataDir(),
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'outage:', REDIS_COMMAND_TIMEOUT: '300', REDIS_CONNECT_TIMEOUT: '500', TOKEN_RATE_LIMIT: String(LIMIT) },
    });
    counters = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => 100 });
    counters.on('error', () => {});
  }, 60_000);
  afterAll(async () => {
    counters?.disconnect();
    await server?.close(0);
    await redis?.dispose();
  });

  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(DEADLINE_MS) });
    return { status: res.status, body: await res.text() };
  };
  /** One token request's status; it must be answered within the deadline. */
  const token = async (c: SeededClient) => {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      signal: AbortSignal.timeout(DEADLINE_MS),
      headers: { authorization: basic(c.clientId, c.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const statuses = async (c: SeededClient, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await token(c));
    return out;
  };
  const redisUp = async () => (await get('/metrics')).body.match(/^portcullis_redis_up (\d)$/m)?.[1];
  const fallbacks = async () => Number((await get('/metrics')).body.match(/^portcullis_redis_fallbacks_total (\d+)$/m)?.[1]);
  /** The shared count of the client's token requests from this address (null: none in Redis). */
  const sharedCount = async (c: SeededClient) => {
    if (counters.status !== 'ready') await counters.connect().catch(() => {});
    return counters.get(`outage:token-rate:POST/oauth/token:client:${c.clientId}@127.0.0.1`);
  };
  const eventually = async (check: () => Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  };

  it('counts in Redis while it answers', async () => {
    const c = await seedClient(server.runtime);
    expect(await statuses(c, LIMIT + 1)).toEqual([200, 200, 200, 200, 429]);
    // The refusal is the process's own: once the shared count is spent, it does not ask Redis again this window.
    expect(await sharedCount(c)).toBe(String(LIMIT));
    expect(await redisUp()).toBe('1');
    expect(await fallbacks()).toBe(0);
  });

  it('killed: tokens are still issued promptly under a per-process limit, /readyz stays 200, the metrics say Redis is down', async () => {
    await redis.kill();
    const c = await seedClient(server.runtime);
    expect(await statuses(c, LIMIT + 1)).toEqual([200, 200, 200, 200, 429]);
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    expect(await redisUp()).toBe('0');
    expect(await fallbacks()).toBeGreaterThanOrEqual(LIMIT);
  });

  it('restarted on the same port: the shared limit resumes by itself', async () => {
    await redis.start();
    expect(await eventually(async () => (await redisUp()) === '1')).toBe(true);
    const c = await seedClient(server.runtime);
    const before = await fallbacks();
    expect(await statuses(c, LIMIT + 1)).toEqual([200, 200, 200, 200, 429]);
    expect(await sharedCount(c)).toBe(String(LIMIT));
    expect(await fallbacks()).toBe(before);
  });

  it('frozen (accepts, answers nothing): no request waits longer than the command timeout, and it resumes when thawed', async () => {
    const c = await seedClient(server.runtime);
    expect(await statuses(c, 1)).toEqual([200]);
    expect(await sharedCount(c)).toBe('1');
    redis.freeze();
    try {
      // The first request waits for the command timeout (300 ms), then the process counts on its own: its limit starts afresh.
      expect(await statuses(c, LIMIT + 1)).toEqual([200, 200, 200, 200, 429]);
      expect(await get('/readyz')).toMatchObject({ status: 200 });
      expect(await redisUp()).toBe('0');
    } finally {
      redis.thaw();
    }
    expect(await eventually(async () => (await redisUp()) === '1')).toBe(true);
    // Back in Redis, where the count went on from where it was (the request that timed out may have reached it):
    // what the process counted on its own while Redis was frozen, its allowance spent, is forgotten at once.
    const status = await token(c);
    expect(['2', '3']).toContain(await sharedCount(c));
    expect(status).toBe(200);
  });

  it('frozen: a token quota still holds, counted by the process, and every answer comes promptly', async () => {
    const c = await seedClient(server.runtime);
    await server.runtime.clients.update(c.orgId, c.clientId, { token_quota: { limit: 3, per: 'hour' } }, SYSTEM_ACTOR);
    redis.freeze();
    try {
      expect(await statuses(c, 3)).toEqual([200, 200, 200]);
      const refused = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        signal: AbortSignal.timeout(DEADLINE_MS),
        headers: { authorization: basic(c.clientId, c.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
      });
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: 'quota_exceeded' });
    } finally {
      redis.thaw();
    }
    expect(await eventually(async () => (await redisUp()) === '1')).toBe(true);
  });

  it('closes its Redis connection when it stops', async () => {
    await server.close(0);
    expect(server.runtime.redis?.client.status).toBe('end');
  });
});

describe.skipIf(missing !== undefined)('the Redis connection through an outage', () => {
  it('logs an outage once when it begins and once when it ends, whatever the requests in between, and closes for good', async () => {
    const own = await startOwnRedis();
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };
    const redis = new SharedRedis({ url: own.url, keyPrefix: 'log:', commandTimeoutMs: 300, connectTimeoutMs: 500 }, log);
    try {
      expect(await redis.connect()).toBe(true);
      const limiter = redisLimiters(redis).create({ name: 'n', points: 100, durationSeconds: 60 });
      expect((await limiter.consume('k')).consumedPoints).toBe(1);
      await own.kill();
      for (let i = 0; i < 20; i++) await limiter.consume('k');
      expect(redis.up).toBe(false);
      expect(redis.fallbackCount).toBe(20);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^warn Redis is unreachable \(.+\): rate limits and throttles count in each process until it answers again$/);
      await own.start();
      const end = Date.now() + 10_000;
      while (!redis.up && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(redis.up).toBe(true);
      expect(lines).toEqual([lines[0], 'info Redis answers again: rate limits and throttles are shared again']);
      // The counts Redis lost with its restart start afresh there.
      expect((await limiter.consume('k')).consumedPoints).toBe(1);
    } finally {
      await redis.close();
      await own.dispose();
    }
    expect(redis.client.status).toBe('end');
    expect(lines).toHaveLength(2); // closing is not an outage
  });
});
