import type { Clock } from '../../src/clock.js';

/** A clock tests move by hand. */
export class TestClock implements Clock {
  private t: number;
  constructor(start = Date.now()) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  nowMs(): number {
    return this.t;
  }
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

/**
 * A test clock that runs with real time (plus whatever a test advances it by), for tests where
 * the server's clock meets a real one: a child server process's, or Redis's expiry of keys. A
 * frozen clock there falls behind, and an hour or a day that has ended for one has not for the other.
 */
export class RunningClock extends TestClock {
  private readonly origin = Date.now();
  override nowMs(): number {
    return super.nowMs() + (Date.now() - this.origin);
  }
}

/**
 * When fewer than `marginMs` are left of the current UTC hour or day, waits for the next one to
 * begin: for a test on a real server (a real clock) whose counts fall in hourly or daily buckets
 * and which expects them all in one.
 */
export async function clearOfBoundary(unit: 'hour' | 'day', marginMs: number): Promise<void> {
  const size = unit === 'hour' ? 3_600_000 : 86_400_000;
  const left = size - (Date.now() % size);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
