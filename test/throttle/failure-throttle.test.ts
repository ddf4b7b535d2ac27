import { describe, expect, it } from 'vitest';
import { ThrottledError } from '../../src/errors/domain-errors.js';
import { throttledAddress } from '../../src/throttle/address.js';
import { FailureThrottle, type ThrottleSettings } from '../../src/throttle/failure-throttle.js';
import { TestClock } from '../helpers/clock.js';

const settings: ThrottleSettings = { failuresPerKeyFromAddress: 3, failuresPerAddress: 5, windowSeconds: 1 };

function fail(throttle: FailureThrottle, key: string | undefined, ip: string, times: number): void {
  for (let i = 0; i < times; i++) throttle.failed(key, ip);
}

/** The ThrottledError `check` throws, or undefined when it lets the attempt through. */
function refusal(throttle: FailureThrottle, key: string | undefined, ip: string): ThrottledError | undefined {
  try {
    throttle.check(key, ip);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ThrottledError);
    return err as ThrottledError;
  }
}

describe('FailureThrottle', () => {
  it('answers synchronously, and lets everything through while nothing has failed', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    expect(throttle.check('client-a', '10.0.0.1')).toBeUndefined();
    expect(throttle.check(undefined, '10.0.0.1')).toBeUndefined();
  });

  it('refuses an address for a key after its failures for that key, and nobody else', () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle(settings, clock);
    fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined(); // 2 of 3: still allowed
    throttle.failed('client-a', '10.0.0.1');
    const refused = refusal(throttle, 'client-a', '10.0.0.1');
    expect(refused?.retryAfterSeconds).toBeCloseTo(1, 5); // a full window from the failure that reached the limit
    expect(refusal(throttle, 'client-b', '10.0.0.1')).toBeUndefined(); // 3 of 5 for the address
    expect(refusal(throttle, 'client-a', '10.0.0.2')).toBeUndefined(); // the key from elsewhere
  });

  it('never refuses a key from an address that has not failed, however often it failed elsewhere', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    for (let i = 0; i < 1000; i++) {
      const ip = `10.0.${i >> 8}.${i & 255}`;
      fail(throttle, 'client-a', ip, 10);
      expect(refusal(throttle, 'client-a', ip)).toBeDefined();
    }
    expect(refusal(throttle, 'client-a', '10.9.9.9')).toBeUndefined();
  });

  it('refuses an address for everything after its failures, whatever the keys', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    for (let i = 0; i < 5; i++) throttle.failed(`client-${i}`, '10.0.0.1');
    expect(refusal(throttle, 'client-new', '10.0.0.1')).toBeDefined();
    expect(refusal(throttle, undefined, '10.0.0.1')).toBeDefined();
    expect(refusal(throttle, 'client-new', '10.0.0.2')).toBeUndefined();
    expect(refusal(throttle, 'client-0', '10.0.0.2')).toBeUndefined();
  });

  it('counts failures without a key (a malformed request) against the address only', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    fail(throttle, undefined, '10.0.0.1', 4);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
    throttle.failed(undefined, '10.0.0.1');
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeDefined();
  });

  it('lets the address in again once the lockout has passed, and counts afresh in each window', () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle(settings, clock);
    fail(throttle, 'client-a', '10.0.0.1', 3);
    clock.advance(0.9);
    expect(refusal(throttle, 'client-a', '10.0.0.1')?.retryAfterSeconds).toBeCloseTo(0.1, 5);
    clock.advance(0.2);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
    // Below the limit, a window's failures are forgotten when it ends.
    fail(throttle, 'client-a', '10.0.0.1', 2);
    clock.advance(1.1);
    fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
  });

  it('keeps a lock for a key while it lasts, even after the address’s own window has passed', () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle(settings, clock);
    throttle.failed('client-x', '10.0.0.1'); // the address's window starts here
    clock.advance(0.9);
    fail(throttle, 'client-a', '10.0.0.1', 3); // the key's lock lasts until 1.9
    clock.advance(0.3); // 1.2: the address's window is over, its count forgotten
    expect(refusal(throttle, 'client-x', '10.0.0.1')).toBeUndefined();
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeDefined();
    clock.advance(0.8);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined();
  });

  it('forgets the failures of a key from an address when it succeeds there, not the address’s', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    fail(throttle, 'client-a', '10.0.0.1', 2);
    throttle.succeeded('client-a', '10.0.0.1');
    fail(throttle, 'client-a', '10.0.0.1', 2);
    expect(refusal(throttle, 'client-a', '10.0.0.1')).toBeUndefined(); // 2, not 4, for the key
    throttle.failed('client-b', '10.0.0.1'); // 5 for the address
    expect(refusal(throttle, 'client-c', '10.0.0.1')).toBeDefined();
  });

  describe('with a guard per key', () => {
    const guarded: ThrottleSettings = { ...settings, guardKeyAfter: 4 };

    it('refuses, for that key, the addresses that failed for it once it failed too often in all, and lets the others in', () => {
      const clock = new TestClock();
      const throttle = new FailureThrottle(guarded, clock);
      for (let i = 1; i <= 3; i++) throttle.failed('alice', `10.0.0.${i}`);
      expect(refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined(); // 3 of 4 in all
      throttle.failed('alice', '10.0.0.4');
      for (let i = 1; i <= 4; i++) expect(refusal(throttle, 'alice', `10.0.0.${i}`), `10.0.0.${i}`).toBeDefined();
      expect(refusal(throttle, 'alice', '10.0.1.1')).toBeUndefined(); // never failed: the owner gets in
      throttle.failed('bob', '10.0.1.2');
      expect(refusal(throttle, 'alice', '10.0.1.2')).toBeUndefined(); // failed, but not for alice
      expect(refusal(throttle, 'bob', '10.0.0.1')).toBeUndefined(); // the guard is alice's only
      // A new address gets one try, then it is refused too.
      throttle.failed('alice', '10.0.2.1');
      expect(refusal(throttle, 'alice', '10.0.2.1')).toBeDefined();
      clock.advance(1.1);
      expect(refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined();
    });

    it('lifts the guard for an address once its own failures for the key are out of their window', () => {
      const clock = new TestClock();
      const throttle = new FailureThrottle(guarded, clock);
      throttle.failed('alice', '10.0.0.1');
      clock.advance(0.6);
      for (let i = 2; i <= 4; i++) throttle.failed('alice', `10.0.0.${i}`);
      expect(refusal(throttle, 'alice', '10.0.0.1')?.retryAfterSeconds).toBeCloseTo(0.4, 5);
      clock.advance(0.5); // 1.1: 10.0.0.1's failure is out of its window; the guard lasts until 1.6
      expect(refusal(throttle, 'alice', '10.0.0.1')).toBeUndefined();
      expect(refusal(throttle, 'alice', '10.0.0.2')).toBeDefined();
    });
  });

  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as its IPv4 address', () => {
    const throttle = new FailureThrottle(settings, new TestClock());
    for (let i = 1; i <= 5; i++) throttle.failed(`client-${i}`, `2001:db8:1:2::${i.toString(16)}`);
    expect(refusal(throttle, 'client-new', '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBeDefined();
    expect(refusal(throttle, 'client-new', '2001:db8:1:3::1')).toBeUndefined();
    fail(throttle, 'client-a', '::ffff:10.0.0.7', 3);
    expect(refusal(throttle, 'client-a', '10.0.0.7')).toBeDefined();
  });

  it('forgets expired entries once enough have piled up, and stays within its bound (no timer)', () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle({ ...settings, maxEntries: 2000 }, clock);
    const internals = throttle as unknown as { addresses: { size: number }; pairs: { size: number } };
    for (let i = 0; i < 500; i++) throttle.failed(`old-${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(internals.addresses.size + internals.pairs.size).toBe(1000);
    clock.advance(1.1); // the window (1 s) has passed for all of them
    for (let i = 0; i < 525; i++) throttle.failed(`new-${i}`, `10.1.${i >> 8}.${i & 255}`); // each map crosses 1024: a sweep
    expect(internals.addresses.size).toBe(525);
    expect(internals.pairs.size).toBe(525);
    // Within one window, from very many addresses: the oldest are forgotten, never more than the bound kept.
    for (let i = 0; i < 5000; i++) throttle.failed(`flood-${i}`, `10.2.${i >> 8}.${i & 255}`);
    expect(internals.addresses.size).toBeLessThanOrEqual(2000);
    expect(internals.pairs.size).toBeLessThanOrEqual(2000);
    expect(refusal(throttle, 'flood-4999', '10.2.19.135')).toBeUndefined(); // the newest is still counted…
    fail(throttle, 'flood-4999', '10.2.19.135', 2);
    expect(refusal(throttle, 'flood-4999', '10.2.19.135')).toBeDefined(); // …3 of 3
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
