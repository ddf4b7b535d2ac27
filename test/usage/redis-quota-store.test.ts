import { describe, expect, it } from 'vitest';
import { SharedRedis } from '../../src/store/redis.js';
import { LocalQuotaStore } from '../../src/usage/quota-store.js';
import { RedisQuotaStore } from '../../src/usage/redis-quota-store.js';
import { freePort } from '../helpers/server.js';
import { redisAvailable, sharedRedisConnections, testRedisPrefix } from '../helpers/redis.js';

const HOUR = 3600_000;
const window = (key: string, limit: number) => ({ key, limit, start: 0, end: Date.UTC(2100, 0, 1) });

describe.skipIf(!redisAvailable)('token quotas in Redis', () => {
  const prefix = testRedisPrefix();
  const { open } = sharedRedisConnections(prefix);

  it('takes a token in every window or in none: a full window is the answer and the others are not counted', async () => {
    const [a, b] = [new RedisQuotaStore(await open(), new LocalQuotaStore()), new RedisQuotaStore(await open(), new LocalQuotaStore())];
    const client = window('client:c1:hour', 3);
    const org = window('org:o1:day', 4);
    expect(await a.take([client, org])).toBeUndefined();
    expect(await b.take([client, org])).toBeUndefined();
    expect(await a.take([client, org])).toBeUndefined();
    // The client's window is full (3): refused, and the organization's count stays at 3.
    expect(await b.take([client, org])).toEqual(client);
    expect(await a.take([window('client:c2:hour', 10), org])).toBeUndefined();
    expect(await b.take([window('client:c3:hour', 10), org])).toEqual(org);
    // A token given back makes room again.
    await a.giveBack([client, org]);
    expect(await b.take([client])).toBeUndefined();
  });

  it('counts in the fallback store while Redis does not answer, and never waits for it', async () => {
    const down = new SharedRedis({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: prefix, commandTimeoutMs: 200, connectTimeoutMs: 200 });
    expect(await down.connect()).toBe(false);
    const local = new LocalQuotaStore();
    const store = new RedisQuotaStore(down, local);
    const w = { key: 'client:c4:hour', limit: 2, start: 0, end: HOUR };
    expect(await store.take([w])).toBeUndefined();
    expect(await store.take([w])).toBeUndefined();
    expect(await store.take([w])).toEqual(w);
    // Counted where the process counts alone.
    expect(local.take([w])).toEqual(w);
    await down.close();
  });
});
