import { fromEpochMs, systemClock, type Clock } from '../clock.js';
import type { Data } from '../store/repositories/index.js';
import type { UsageRow } from '../store/repositories/usage.js';

const HOUR_MS = 3600_000;

/** One pending count: what the flush writes as a row. */
interface Pending {
  orgId: string;
  clientId: string;
  api: string;
  hour: number;
  outcome: string;
  count: number;
}

/**
 * One client and API on the token path: its last token, to tell a redundant one, and the tokens
 * and redundant tokens of `hour` not flushed yet. Counted here, in place, so that a token costs
 * two map lookups by strings it already has and allocates nothing (the flush moves the counts
 * to the pending rows).
 */
interface Pair {
  orgId: string;
  clientId: string;
  api: string;
  /** When its last token was issued. */
  at: number;
  /** Half that token's lifetime, in ms: a new token before `at + halfLifeMs` is redundant. */
  halfLifeMs: number;
  hour: number;
  issued: number;
  redundant: number;
}

export interface UsageCounterOptions {
  clock?: Clock;
  /** (client, API) pairs whose last token is remembered, at most; past it the oldest are forgotten. */
  maxTracked?: number;
  /** Rows per statement; the event loop gets a turn between statements. */
  perStatement?: number;
}

/**
 * Usage per client, API and UTC hour (docs/usage-and-quotas.md): tokens issued, redundant
 * tokens, and failed token requests by OAuth error code. Counted in memory (a Map
 * increment per request: no database write on the token path) and added to the database
 * every `intervalMs` and on shutdown, where the counts of every process and node are summed
 * (`count = count + excluded.count`). A failed write puts its counts back for the next flush;
 * a crash loses at most one interval of counts.
 *
 * A token is *redundant* when the same client got a token for the same API from this process
 * less than half that token's lifetime before: the client does not cache its tokens. Known per
 * process: a client whose requests are spread across nodes is undercounted, never overcounted.
 */
export class UsageCounter {
  private pending = new Map<string, Pending>();
  /** client id → API → pair, in the order the pairs were first seen. */
  private readonly pairs = new Map<string, Map<string, Pair>>();
  private tracked = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private readonly maxTracked: number;
  private readonly perStatement: number;

  constructor(
    private readonly data: Data,
    private readonly intervalMs = 5000,
    private readonly onError: (err: unknown) => void = () => {},
    opts: UsageCounterOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.maxTracked = opts.maxTracked ?? 100_000;
    this.perStatement = opts.perStatement ?? 500;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  /** A token issued to `clientId` for `api`, valid `ttlSeconds`. */
  issued(orgId: string, clientId: string, api: string, ttlSeconds: number): void {
    const now = this.clock.nowMs();
    const hour = now - (now % HOUR_MS);
    let apis = this.pairs.get(clientId);
    const pair = apis?.get(api);
    if (!pair) {
      if (this.tracked >= this.maxTracked) this.forgetOldest();
      if (!apis) {
        apis = new Map();
        this.pairs.set(clientId, apis);
      }
      apis.set(api, { orgId, clientId, api, at: now, halfLifeMs: ttlSeconds * 500, hour, issued: 1, redundant: 0 });
      this.tracked++;
      return;
    }
    if (pair.hour !== hour) {
      this.settle(pair);
      pair.hour = hour;
    }
    pair.issued++;
    if (now < pair.at + pair.halfLifeMs) pair.redundant++;
    pair.at = now;
    pair.halfLifeMs = ttlSeconds * 500;
  }

  /** Moves a pair's counts to the pending rows. */
  private settle(pair: Pair): void {
    if (pair.issued > 0) this.add(pair.orgId, pair.clientId, pair.api, pair.hour, 'issued', pair.issued);
    if (pair.redundant > 0) this.add(pair.orgId, pair.clientId, pair.api, pair.hour, 'redundant', pair.redundant);
    pair.issued = 0;
    pair.redundant = 0;
  }

  /** Stops tracking a pair, its counts kept for the flush. */
  private forget(pair: Pair): void {
    this.settle(pair);
    const apis = this.pairs.get(pair.clientId);
    if (!apis?.delete(pair.api)) return;
    this.tracked--;
    if (apis.size === 0) this.pairs.delete(pair.clientId);
  }

  /** The first pair of the client seen first. */
  private forgetOldest(): void {
    const oldest = this.pairs.values().next().value?.values().next().value;
    if (oldest) this.forget(oldest);
  }

  private *allPairs(): Generator<Pair> {
    for (const apis of this.pairs.values()) yield* apis.values();
  }

  /** A token request of `clientId` refused with `error` (an OAuth error code); `api` '' when it named no API we know. */
  failed(orgId: string, clientId: string, api: string, error: string): void {
    const now = this.clock.nowMs();
    this.add(orgId, clientId, api, now - (now % HOUR_MS), error);
  }

  private add(orgId: string, clientId: string, api: string, hour: number, outcome: string, count = 1): void {
    const key = `${hour} ${outcome} ${clientId} ${api}`;
    const seen = this.pending.get(key);
    if (seen) seen.count += count;
    else this.pending.set(key, { orgId, clientId, api, hour, outcome, count });
  }

  /** Adds what has been counted to the database; safe to call concurrently (flushes run one after another). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write()).catch(this.onError);
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    for (const pair of this.allPairs()) this.settle(pair);
    this.forgetStale();
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (let i = 0; i < batch.length; i += this.perStatement) {
      const chunk = batch.slice(i, i + this.perStatement);
      try {
        await this.data.transaction((tx) => tx.usage.add(chunk.map(toRow)));
      } catch (err) {
        // Kept for the next flush: a database outage delays counts, it does not lose them.
        for (const p of batch.slice(i)) this.add(p.orgId, p.clientId, p.api, p.hour, p.outcome, p.count);
        throw err;
      }
      if (i + this.perStatement < batch.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Pairs whose last token is past half its life can no longer make one redundant: forgotten. */
  private forgetStale(): void {
    const now = this.clock.nowMs();
    // A Map's iteration goes on correctly past entries deleted from it.
    for (const pair of this.allPairs()) if (now >= pair.at + pair.halfLifeMs) this.forget(pair);
  }
}

function toRow(p: Pending): UsageRow {
  return { orgId: p.orgId, clientId: p.clientId, api: p.api, hour: fromEpochMs(p.hour), outcome: p.outcome, count: p.count };
}
