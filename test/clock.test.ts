import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/clock.js';
import { RunningClock, TestClock, clearOfBoundary } from './helpers/clock.js';

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

  it('a running test clock keeps real time, plus what the test advances it by', async () => {
    const clock = new RunningClock();
    const start = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(clock.nowMs() - start).toBeGreaterThanOrEqual(25);
    clock.advance(3600);
    expect(clock.nowMs() - Date.now()).toBeGreaterThanOrEqual(3_600_000 - 5);
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(clock.nowMs() - 5);
  });
});

describe('clearOfBoundary', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits into the next hour only when the current one ends within the margin', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-01T10:59:50Z') });
    let done = false;
    const waiting = clearOfBoundary('hour', 15_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(9_000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    await waiting;
    expect(new Date().toISOString() > '2026-12-01T11:00:00').toBe(true);

    vi.setSystemTime(Date.parse('2026-12-01T10:59:40Z'));
    await clearOfBoundary('hour', 15_000); // 20 s left: no wait
    expect(new Date().toISOString()).toBe('2026-12-01T10:59:40.000Z');
  });
});
