import { describe, expect, it } from 'vitest';
import { ThrottledError } from '../../src/errors/domain-errors.js';
import { FailureThrottle } from '../../src/throttle/failure-throttle.js';
import { TestClock } from '../helpers/clock.js';

const settings = { name: 'test', failuresPerKey: 3, failuresPerIp: 5, windowSeconds: 1 };

async function fail(throttle: FailureThrottle, key: string | undefined, ip: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await throttle.failed(key, ip);
}

describe('FailureThrottle', () => {
  it('answers synchronously while neither the key nor the IP has failed', () => {
    const throttle = new FailureThrottle(settings);
    expect(throttle.check('client-a', '10.0.0.1')).toBeUndefined();
    expect(throttle.check(undefined, '10.0.0.1')).toBeUndefined();
  });

  it('locks a key out after its limit of failures, whatever the IP, and leaves other keys alone', async () => {
    const throttle = new FailureThrottle(settings);
    await fail(throttle, 'client-a', '10.0.0.1', 2);
    await expect(throttle.check('client-a', '10.0.0.2')).resolves.toBeUndefined(); // 2 of 3: still allowed
    await throttle.failed('client-a', '10.0.0.3');
    const locked = throttle.check('client-a', '10.0.0.4');
    await expect(locked).rejects.toBeInstanceOf(ThrottledError);
    await expect(locked).rejects.toMatchObject({ retryAfterSeconds: expect.any(Number) });
    expect(throttle.check('client-b', '10.0.0.9')).toBeUndefined();
  });

  it('locks an IP out after its limit of failures, whatever the key', async () => {
    const throttle = new FailureThrottle(settings);
    for (let i = 0; i < 5; i++) await throttle.failed(`client-${i}`, '10.0.0.1');
    await expect(throttle.check('client-new', '10.0.0.1')).rejects.toBeInstanceOf(ThrottledError);
    await expect(throttle.check(undefined, '10.0.0.1')).rejects.toBeInstanceOf(ThrottledError);
    expect(throttle.check('client-new', '10.0.0.2')).toBeUndefined(); // another IP, a key that never failed
  });

  it('lets the key in again once the window has passed', async () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle(settings, clock);
    await fail(throttle, 'client-a', '10.0.0.1', 3);
    await expect(throttle.check('client-a', '10.0.0.1')).rejects.toBeInstanceOf(ThrottledError);
    clock.advance(1.1);
    expect(throttle.check('client-a', '10.0.0.1')).toBeUndefined();
  });

  it('forgets expired entries once enough have piled up (no unbounded growth, no timer)', async () => {
    const clock = new TestClock();
    const throttle = new FailureThrottle(settings, clock);
    const internals = throttle as unknown as { keysFailed: Map<string, number>; ipsFailed: Map<string, number> };
    const entries = {
      get size() {
        return internals.keysFailed.size + internals.ipsFailed.size;
      },
    };
    for (let i = 0; i < 500; i++) await throttle.failed(`old-${i}`, `10.0.${i >> 8}.${i & 255}`); // 1000 entries
    expect(entries.size).toBe(1000);
    clock.advance(1.1); // the window (1 s) has passed for all of them
    for (let i = 0; i < 13; i++) await throttle.failed(`new-${i}`, `10.1.0.${i}`); // crosses 1024: a sweep
    expect(entries.size).toBe(26);
  });
});
