import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { Allowance } from '../../src/throttle/allowance.js';
import { redisLimiters } from '../../src/throttle/limiters.js';
import { TestClock } from '../helpers/clock.js';
import { redisAvailable, sharedRedisConnections, testRedisPrefix } from '../helpers/redis.js';

/** A shared limiter that records each batch it is asked for, and how many were asked for at once. */
function recorded(limiter: RateLimiterAbstract) {
  const batches: number[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const consume = limiter.consume.bind(limiter);
  limiter.consume = async (key, points = 1) => {
    batches.push(Number(points));
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    try {
      return await consume(key, points);
    } finally {
      inFlight--;
    }
  };
  return { limiter, batches, mostInFlight: () => mostInFlight };
}

const memory = (points: number, duration = 60) => recorded(new RateLimiterMemory({ points, duration }));

/** Asks `n` times, one after the other, and counts what was allowed. */
async function allowedOf(n: number, ask: (i: number) => Promise<{ allowed: boolean }>): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await ask(i)).allowed) allowed++;
  return allowed;
}

describe('Allowance', () => {
  it('counts a limit below 200 point by point, then refuses without asking again', async () => {
    const shared = memory(60);
    const allowance = new Allowance(shared.limiter, 60);
    const answers = [];
    for (let i = 0; i < 60; i++) answers.push(await allowance.consume('k'));
    expect(answers.every((a) => a.allowed)).toBe(true);
    expect(answers.map((a) => a.consumed)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const refused = await allowance.consume('k');
    expect(refused).toMatchObject({ allowed: false, consumed: 61 });
    expect(refused.msBeforeNext).toBeGreaterThan(58_000);
    expect(refused.msBeforeNext).toBeLessThanOrEqual(60_000);
    await allowance.consume('k');
    expect(shared.batches).toEqual(Array.from({ length: 60 }, () => 1));
  });

  it('takes a busy key in doubling batches of at most a hundredth of the limit, and hands out exactly the limit', async () => {
    const shared = memory(10_000);
    const allowance = new Allowance(shared.limiter, 10_000);
    const answers = [];
    for (let i = 0; i < 10_100; i++) answers.push(await allowance.consume('k'));
    expect(answers.filter((a) => a.allowed)).toHaveLength(10_000);
    expect(answers.slice(10_000).every((a) => !a.allowed && a.consumed === 10_001)).toBe(true);
    // What the plugin is told never goes past the limit while allowed, nor back.
    const counts = answers.slice(0, 10_000).map((a) => a.consumed);
    expect(Math.max(...counts)).toBe(10_000);
    expect(counts.every((c, i) => i === 0 || c >= (counts[i - 1] as number))).toBe(true);
    expect(shared.batches.slice(0, 8)).toEqual([1, 2, 4, 8, 16, 32, 64, 100]);
    expect(Math.max(...shared.batches)).toBe(100);
    // 7 to ramp up, 92 of 100, then ever smaller ones as the count nears the limit.
    expect(shared.batches.length).toBeLessThan(150);
    expect(shared.batches.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('asks once for all the requests that find nothing left, not once each', async () => {
    const shared = memory(10_000);
    const allowance = new Allowance(shared.limiter, 10_000);
    const answers = await Promise.all(Array.from({ length: 50 }, () => allowance.consume('k')));
    expect(answers.every((a) => a.allowed)).toBe(true);
    expect(shared.mostInFlight()).toBe(1);
    expect(shared.batches).toEqual([1, 2, 4, 8, 16, 32]);
  });

  it('two processes on one shared counter hand out the limit between them, never more', async () => {
    const shared = memory(1000);
    const [a, b] = [new Allowance(shared.limiter, 1000), new Allowance(shared.limiter, 1000)];
    expect(await allowedOf(1500, (i) => (i % 2 ? a : b).consume('k'))).toBe(1000);
  });

  it('a process whose share of the traffic stops holds back at most a hundredth of the limit', async () => {
    const shared = memory(10_000);
    const [a, b] = [new Allowance(shared.limiter, 10_000), new Allowance(shared.limiter, 10_000)];
    const early = await allowedOf(2000, (i) => (i % 2 ? a : b).consume('k'));
    const late = await allowedOf(10_000, () => a.consume('k'));
    expect(early + late).toBeLessThanOrEqual(10_000);
    expect(early + late).toBeGreaterThanOrEqual(9_900);
  });

  it('keeps keys apart', async () => {
    const allowance = new Allowance(memory(2).limiter, 2);
    expect(await allowedOf(3, () => allowance.consume('a'))).toBe(2);
    expect(await allowedOf(3, () => allowance.consume('b'))).toBe(2);
  });

  it('starts over when the window ends', async () => {
    const allowance = new Allowance(memory(3, 1).limiter, 3);
    expect(await allowedOf(4, () => allowance.consume('k'))).toBe(3);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await allowedOf(4, () => allowance.consume('k'))).toBe(3);
  });

  it('while the shared store does not answer, counts point by point, and forgets those counts once it answers again', async () => {
    const shared = memory(10_000);
    let answering = true;
    const allowance = new Allowance(shared.limiter, 10_000, () => answering);
    expect(await allowedOf(31, () => allowance.consume('k'))).toBe(31); // batches of 1, 2, 4, 8 and 16: all handed out
    answering = false; // the limiter's fallback counts now; here the same memory limiter stands for it
    const during = shared.batches.length;
    expect(await allowedOf(5, () => allowance.consume('k'))).toBe(5);
    expect(shared.batches.slice(during)).toEqual([1, 1, 1, 1, 1]);
    answering = true;
    const after = shared.batches.length;
    await allowance.consume('k');
    expect(shared.batches.slice(after)).toEqual([1]); // a new start: one point, then doubling again
  });

  it('forgets keys whose window is over once it holds more than a thousand, and keeps the live ones', async () => {
    const clock = new TestClock();
    const allowance = new Allowance(memory(5).limiter, 5, () => true, clock);
    for (let i = 0; i < 1023; i++) await allowance.consume(`old-${i}`);
    expect(allowance.keys).toBe(1023);
    clock.advance(61); // past every old key's window (60 s)
    await allowance.consume('live');
    expect(allowance.keys).toBe(1024); // below the sweep floor: nothing swept yet
    await allowance.consume('one-more');
    expect(allowance.keys).toBe(2); // swept: the expired thousand are gone, the live key stays
    expect(await allowance.consume('live')).toMatchObject({ allowed: true, consumed: 2 });
  });

  it('passes on a failure of the shared store, and asks again on the next request', async () => {
    const shared = new RateLimiterMemory({ points: 10, duration: 60 });
    const consume = shared.consume.bind(shared);
    let fail = true;
    shared.consume = (key, points) => (fail ? Promise.reject(new Error('store down')) : consume(key, points));
    const allowance = new Allowance(shared, 10);
    await expect(allowance.consume('k')).rejects.toThrow('store down');
    fail = false;
    expect(await allowance.consume('k')).toMatchObject({ allowed: true, consumed: 1 });
  });
});

describe.skipIf(!redisAvailable)('Allowance over Redis', () => {
  const { open } = sharedRedisConnections(testRedisPrefix());

  it('two processes hand out the limit exactly, in a few dozen round trips instead of one per request', async () => {
    const spec = { name: 'allowance', points: 5000, durationSeconds: 60 };
    const [onA, onB] = [recorded(redisLimiters(await open()).create(spec)), recorded(redisLimiters(await open()).create(spec))];
    const [a, b] = [new Allowance(onA.limiter, 5000), new Allowance(onB.limiter, 5000)];
    expect(await allowedOf(6000, (i) => (i % 2 ? a : b).consume('client'))).toBe(5000);
    expect(onA.batches.length + onB.batches.length).toBeLessThan(150);
    // The shared count is the limit, plus what was asked for once it was spent (one batch per process).
    expect((await onA.limiter.get('client'))?.consumedPoints).toBeLessThanOrEqual(5000 + 2 * 50);
  });
});
