import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { ThrottledError } from '../../src/errors/domain-errors.js';
import { throttledAddress } from '../../src/throttle/address.js';
import type { FailureCounter } from '../../src/throttle/failure-counter.js';
import { FailureThrottle, type ThrottleSettings } from '../../src/throttle/failure-throttle.js';
import { type LimiterSpec, type Limiters, memoryLimiters } from '../../src/throttle/limiters.js';

const settings: ThrottleSettings = { name: 'test', failuresPerKeyFromAddress: 3, failuresPerAddress: 5, windowSeconds: 1 };

/**
 * rate-limiter-flexible's memory store reads Date.now() and forgets a key on a setTimeout: the
 * tests fake both, and the throttle's own map runs on systemClock, so all of it moves together.
 */
function throttleWith(overrides: Partial<ThrottleSettings> = {}): FailureThrottle {
  return new FailureThrottle({ ...settings, ...overrides }, systemClock);
}

/** Moves the (fake) time on by `seconds`, firing the timers due by then. */
function advance(seconds: number): void {
  vi.advanceTimersByTime(seconds * 1000);
}

async function fail(throttle: FailureThrottle, key: string | undefined, ip: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await throttle.failed(key, ip);
}

/** The ThrottledError `check` throws or rejects with, or undefined when it lets the attempt through. */
async function refusal(throttle: FailureThrottle, key: string | undefined, ip: string): Promise<ThrottledError | undefined> {
  try {
    await throttle.check(key, ip);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ThrottledError);
    return err as ThrottledError;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-03-01T12:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('FailureThrottle', () => {
  it('answers synchronously, and lets everything through while nothing has failed', () => {
    const throttle = throttleWith();
    expect(throttle.check('client-a', '10.0.0.1')).toBeUndefined();
    expect(throttle.check(undefined, '10.0.0.1')).toBeUndefined();
  });

  it('refuses an address for a key after its failures for that key, and nobody else', async () => {
    const throttle = throttleWith();
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined(); // 2 of 3: still allowed
    await throttle.failed('client-a', '10.0.0.1');
    const refused = await refusal(throttle, 'client-a', '10.0.0.1');
    expect(refused?.retryAfterSeconds).toBeCloseTo(1, 5); // a full window from the failure that reached the limit
    expect(await refusal(throttle, 'client-b', '10.0.0.1')).toBeUndefined(); // 3 of 5 for the address
    expect(await refusal(throttle, 'client-a', '10.0.0.2')).toBeUndefined(); // the key from elsewhere
  });

  it('never refuses a key from an address that has not failed, however often it failed elsewhere', async () => {
    const throttle = throttleWith();
    for (let i = 0; i < 1000; i++) {
      const ip = `10.0.${i >> 8}.${i & 255}`;
      await fail(throttle, 'client-a', ip, 10);
      expect(await refusal(throttle, 'client-a', ip)).toBeDefined();
    }
    expect(await refusal(throttle, 'client-a', '10.9.9.9')).toBeUndefined();
  });

  it('refuses an address for everything after its failures, whatever the keys', async () => {
    const throttle = throttleWith();
    for (let i = 0; i < 5; i++) await throttle.failed(`client-${i}`, '10.0.0.1');
    expect(await refusal(throttle, 'client-new', '10.0.0.1')).toBeDefined();
    expect(await refusal(throttle, undefined, '10.0.0.1')).toBeDefined();
    expect(await refusal(throttle, 'client-new', '10.0.0.2')).toBeUndefined();
    expect(await refusal(throttle, 'client-0', '10.0.0.2')).toBeUndefined();
  });

  it('counts failures without a key (a malformed request) against the address only', async () => {
    const throttle = throttleWith();
    await fail(throttle, undefined, '10.0.0.1', 4);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
    await throttle.failed(undefined, '10.0.0.1');
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeDefined();
  });

  it('lets the address in again once the lockout has passed, and counts afresh in each window', async () => {
    const throttle = throttleWith();
    await fail(throttle, 'client-a', '10.0.0.1', 3);
    advance(0.9);
    expect((await refusal(throttle, 'client-a', '10.0.0.1'))?.retryAfterSeconds).toBeCloseTo(0.1, 5);
    advance(0.2);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
    // Below the limit, a window's failures are forgotten when it ends.
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    advance(1.1);
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
  });

  it('keeps a lock for a key while it lasts, even after the address’s own window has passed', async () => {
    const throttle = throttleWith();
    await throttle.failed('client-x', '10.0.0.1'); // the address's window starts here
    advance(0.9);
    await fail(throttle, 'client-a', '10.0.0.1', 3); // the key's lock lasts until 1.9
    advance(0.3); // 1.2: the address's window is over, its count forgotten
    expect(await refusal(throttle, 'client-x', '10.0.0.1')).toBeUndefined();
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeDefined();
    advance(0.8);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
  });

  it('forgets the failures of a key from an address when it succeeds there, not the address’s', async () => {
    const throttle = throttleWith();
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    await throttle.succeeded('client-a', '10.0.0.1');
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(await refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined(); // 2, not 4, for the key
    await throttle.failed('client-b', '10.0.0.1'); // 5 for the address
    expect(await refusal(throttle, 'client-c', '10.0.0.1')).toBeDefined();
  });

  describe('with a guard per key', () => {
    const guarded: ThrottleSettings = { ...settings, guardKeyAfter: 4 };

    it('refuses, for that key, the addresses that failed for it once it failed too often in all, and lets the others in', async () => {
      const throttle = throttleWith(guarded);
      for (let i = 1; i <= 3; i++) await throttle.failed('alice', `10.0.0.${i}`);
      expect(await refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined(); // 3 of 4 in all
      await throttle.failed('alice', '10.0.0.4');
      for (let i = 1; i <= 4; i++) expect(await refusal(throttle, 'alice', `10.0.0.${i}`), `10.0.0.${i}`).toBeDefined();
      expect(await refusal(throttle, 'alice', '10.0.1.1')).toBeUndefined(); // never failed: the owner gets in
      await throttle.failed('bob', '10.0.1.2');
      expect(await refusal(throttle, 'alice', '10.0.1.2')).toBeUndefined(); // failed, but not for alice
      expect(await refusal(throttle, 'bob', '10.0.0.1')).toBeUndefined(); // the guard is alice's only
      // A new address gets one try, then it is refused too.
      await throttle.failed('alice', '10.0.2.1');
      expect(await refusal(throttle, 'alice', '10.0.2.1')).toBeDefined();
      advance(1.1);
      expect(await refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined();
    });

    it('lifts the guard for an address once its own failures for the key are out of their window', async () => {
      const throttle = throttleWith(guarded);
      await throttle.failed('alice', '10.0.0.1');
      advance(0.6);
      for (let i = 2; i <= 4; i++) await throttle.failed('alice', `10.0.0.${i}`);
      expect((await refusal(throttle, 'alice', '10.0.0.1'))?.retryAfterSeconds).toBeCloseTo(0.4, 5);
      advance(0.5); // 1.1: 10.0.0.1's failure is out of its window; the guard lasts until 1.6
      expect(await refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined();
      expect(await refusal(throttle, 'alice', '10.0.0.2')).toBeDefined();
    });
  });

  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4 address', async () => {
    const throttle = throttleWith();
    for (let i = 1; i <= 5; i++) await throttle.failed(`client-${i}`, `2001:db8:1:2::${i.toString(16)}`);
    expect(await refusal(throttle, 'client-new', '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBeDefined();
    expect(await refusal(throttle, 'client-new', '2001:db8:1:3::1')).toBeUndefined();
    await fail(throttle, 'client-a', '::ffff:10.0.0.7', 3);
    expect(await refusal(throttle, 'client-a', '10.0.0.7')).toBeDefined();
  });

  it('forgets addresses once their window has passed, and remembers a bounded number (no timer of its own)', async () => {
    const throttle = throttleWith({ maxEntries: 2000 });
    const internals = throttle as unknown as { recent: Map<string, number>; addresses: FailureCounter; pairs: FailureCounter };
    for (let i = 0; i < 500; i++) await throttle.failed(`old-${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(internals.recent.size).toBe(500);
    advance(1.1); // the window (1 s) has passed for all of them
    // The library's memory store has dropped their counts on its timers…
    expect(await internals.addresses.get('10.0.0.0')).toBeNull();
    expect(await internals.pairs.get('10.0.0.0 old-0')).toBeNull();
    // …and the map forgets them when it sweeps, once it has grown past 1024.
    for (let i = 0; i < 525; i++) await throttle.failed(`new-${i}`, `10.1.${i >> 8}.${i & 255}`);
    expect(internals.recent.size).toBe(525);
    // Within one window, from very many addresses: the oldest are forgotten, never more than the bound kept.
    for (let i = 0; i < 5000; i++) await throttle.failed(`flood-${i}`, `10.2.${i >> 8}.${i & 255}`);
    expect(internals.recent.size).toBeLessThanOrEqual(2000);
    expect(await refusal(throttle, 'flood-4999', '10.2.19.135')).toBeUndefined(); // the newest is still counted…
    await fail(throttle, 'flood-4999', '10.2.19.135', 2);
    expect(await refusal(throttle, 'flood-4999', '10.2.19.135')).toBeDefined(); // …3 of 3
  });

  it('counts through the Limiters it is given, each limit under its own name', async () => {
    const specs: LimiterSpec[] = [];
    const limiters: Limiters = {
      shared: false,
      answering: () => true,
      create: (spec) => {
        specs.push(spec);
        return memoryLimiters.create(spec);
      },
    };
    const throttle = throttleWith({ name: 'sign-in', guardKeyAfter: 4, limiters });
    expect(specs.map((s) => s.name).sort()).toEqual(['sign-in:address', 'sign-in:address-key', 'sign-in:key']);
    // Each limit's points; a refusal lasts a full window from the failure that reached the limit.
    expect(specs.map((s) => [s.points, s.durationSeconds, s.blockDurationSeconds])).toEqual(
      expect.arrayContaining([
        [5, 1, 1],
        [3, 1, 1],
        [4, 1, 1],
      ]),
    );
    await fail(throttle, 'alice', '10.0.0.1', 3);
    expect(await refusal(throttle, 'alice', '10.0.0.1')).toBeDefined();
    expect(await refusal(throttle, 'alice', '10.0.0.2')).toBeUndefined();
  });
});

describe('throttledAddress', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['2001:db8:0:1::1', '2001:db8:0:1::/64'],
    ['2001:0DB8:0000:0001:abcd::1', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4::/64'],
    ['not-an-address', 'not-an-address'],
    ['1:2:3', '1:2:3'],
  ])('%s → %s', (ip, address) => {
    expect(throttledAddress(ip)).toBe(address);
  });
});
