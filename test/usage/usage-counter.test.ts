import { describe, expect, it } from 'vitest';
import type { Data } from '../../src/store/repositories/index.js';
import type { UsageRow } from '../../src/store/repositories/usage.js';
import { UsageCounter } from '../../src/usage/usage-counter.js';
import { TestClock } from '../helpers/clock.js';

/** What the counter wrote, summed by (hour, outcome, client, API); `failing` makes the next write fail. */
function fakeData() {
  const written = new Map<string, number>();
  const state = { failing: false };
  const data = {
    async transaction(work: (tx: { usage: { add(rows: readonly UsageRow[]): Promise<void> } }) => Promise<void>) {
      return work({
        usage: {
          async add(rows) {
            if (state.failing) throw new Error('database down');
            for (const r of rows) {
              const key = `${r.hour.toISOString()} ${r.outcome} ${r.clientId} ${r.api}`;
              written.set(key, (written.get(key) ?? 0) + r.count);
            }
          },
        },
      });
    },
  } as unknown as Data;
  return { data, written, state };
}

const HOUR = '2026-12-01T10:00:00.000Z';
const NEXT_HOUR = '2026-12-01T11:00:00.000Z';

describe('UsageCounter', () => {
  it('counts tokens and redundant tokens per client, API and hour, and failures by code', async () => {
    const clock = new TestClock(Date.parse('2026-12-01T10:58:00Z'));
    const { data, written } = fakeData();
    const counter = new UsageCounter(data, 60_000, undefined, { clock });
    counter.issued('org', 'c1', 'api-a', 3600); // first: not redundant
    clock.advance(60);
    counter.issued('org', 'c1', 'api-a', 3600); // a minute later: redundant
    counter.issued('org', 'c1', 'api-b', 3600); // another API: not redundant
    counter.failed('org', 'c1', 'api-a', 'invalid_scope');
    clock.advance(120); // 11:01, the next hour; 2 minutes after the last token: still redundant
    counter.issued('org', 'c1', 'api-a', 3600);
    await counter.flush();
    expect(Object.fromEntries(written)).toEqual({
      [`${HOUR} issued c1 api-a`]: 2,
      [`${HOUR} redundant c1 api-a`]: 1,
      [`${HOUR} issued c1 api-b`]: 1,
      [`${HOUR} invalid_scope c1 api-a`]: 1,
      [`${NEXT_HOUR} issued c1 api-a`]: 1,
      [`${NEXT_HOUR} redundant c1 api-a`]: 1,
    });
    // A flush writes each count once.
    await counter.flush();
    expect(written.get(`${HOUR} issued c1 api-a`)).toBe(2);
  });

  it('a token after half the previous one’s lifetime is not redundant', async () => {
    const clock = new TestClock(Date.parse('2026-12-01T10:00:00Z'));
    const { data, written } = fakeData();
    const counter = new UsageCounter(data, 60_000, undefined, { clock });
    counter.issued('org', 'c1', 'api', 600);
    clock.advance(301);
    counter.issued('org', 'c1', 'api', 600);
    await counter.flush();
    expect(written.get(`${HOUR} issued c1 api`)).toBe(2);
    expect(written.has(`${HOUR} redundant c1 api`)).toBe(false);
  });

  it('keeps the counts of a pair it stops tracking, and those of a failed write for the next flush', async () => {
    const clock = new TestClock(Date.parse('2026-12-01T10:00:00Z'));
    const { data, written, state } = fakeData();
    const counter = new UsageCounter(data, 60_000, () => {}, { clock, maxTracked: 2 });
    for (const client of ['c1', 'c2', 'c3', 'c1']) counter.issued('org', client, 'api', 3600);
    state.failing = true;
    await counter.flush();
    expect(written.size).toBe(0);
    state.failing = false;
    await counter.flush();
    expect(Object.fromEntries(written)).toEqual({ [`${HOUR} issued c1 api`]: 2, [`${HOUR} issued c2 api`]: 1, [`${HOUR} issued c3 api`]: 1 });
  });
});
