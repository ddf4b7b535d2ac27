import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { TestClock } from './helpers/clock.js';

describe('Clock', () => {
  it('the system clock tells the same instant as a Date and in milliseconds', () => {
    const before = Date.now();
    const [date, ms] = [systemClock.now().getTime(), systemClock.nowMs()];
    const after = Date.now();
    for (const t of [date, ms]) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
  });

  it('a test clock moves both together', () => {
    const clock = new TestClock(1_700_000_000_000);
    expect(clock.nowMs()).toBe(1_700_000_000_000);
    clock.advance(90);
    expect(clock.nowMs()).toBe(1_700_000_090_000);
    expect(clock.now().getTime()).toBe(clock.nowMs());
  });
});
