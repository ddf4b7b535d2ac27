import { systemClock, type Clock } from '../clock.js';
import { ThrottledError } from '../errors/domain-errors.js';
import { throttledAddress } from './address.js';
import { type FailureCount, type FailureCounter, RateLimiterCounter } from './failure-counter.js';
import { type Limiters, memoryLimiters } from './limiters.js';

export interface ThrottleSettings {
  /** Names the throttle's counters (their key prefix), so that two throttles never share one, also in a shared store. */
  name: string;
  /** Failures of one key (a client_id, an account's email) from one address within the window, after which that address is refused for that key. */
  failuresPerKeyFromAddress: number;
  /** Failures from one address, whatever the key, within the window, after which that address is refused for everything. */
  failuresPerAddress: number;
  /**
   * Failures of one key from all addresses together within the window, after which every
   * address that has failed for that key within its window is refused for it (an address
   * that has not is still let in). Undefined: no such guard.
   */
  guardKeyAfter?: number;
  windowSeconds: number;
  /** Addresses remembered as having failed recently, at most (default 65,536); past it the oldest are forgotten. */
  maxEntries?: number;
  /** Where the failures are counted; default: in this process's memory. */
  limiters?: Limiters;
}

/** Longer keys (no client_id or email is this long) are counted by their address only, so a key cannot be a way to fill memory. */
const MAX_KEY_LENGTH = 320;
const DEFAULT_MAX_ENTRIES = 65_536;

/** Sweep expired addresses when the map grows past this (amortized, no timer). */
const SWEEP_MIN = 1024;

/**
 * Throttles failed authentication so that a secret or password cannot be guessed online,
 * without giving whoever lacks it a way to lock out whoever has it (OWASP ASVS V2.2.1):
 * every lock applies only to addresses that have failed themselves.
 *
 * - per (key, address): after `failuresPerKeyFromAddress` failures for one key from one
 *   address, that address is refused for that key;
 * - per address: after `failuresPerAddress` failures from one address, it is refused for
 *   every key (and for requests without one);
 * - per key (`guardKeyAfter`, optional): after that many failures for one key from all
 *   addresses together (many addresses, each under its own limits), every address that has
 *   failed for the key is refused for it. A distributed guesser gets one more guess per new
 *   address; the owner from an address that has not failed gets in.
 *
 * A refusal is a ThrottledError (429 with Retry-After at the edge) and comes before the secret
 * is looked at, so it tells nothing about it. Each lock lasts `windowSeconds` from the failure
 * that reached the limit. A success forgets the failures of its key from its address (not its
 * address's failures).
 *
 * The counting is rate-limiter-flexible's, through the Limiters it is given (in memory, per
 * process, by default; in Redis, shared, with REDIS_URL). In front of it, a map of the
 * addresses that failed within the last window, on the injected clock: checking an address
 * that has not failed costs one synchronous map lookup and no promise (the token path checks
 * on every request); only for an address in it are the counters asked. Every lock lasts at
 * most a window from the address's last failure, so an address the map has forgotten has
 * nothing to be refused for. The map stays per process when the counts are shared: a process
 * that has not seen an address fail lets one attempt of it through to be counted, so N
 * processes give an address at most N − 1 attempts beyond a limit per window.
 */
export class FailureThrottle {
  /** The settings' name: the metrics' `throttle` label. */
  readonly name: string;
  private readonly addresses: FailureCounter;
  private readonly pairs: FailureCounter;
  private readonly keys: FailureCounter | undefined;
  /** Addresses with a failure in the last window → until when (ms on the clock) the counters may hold something for them. */
  private readonly recent = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private sweepAt = SWEEP_MIN;
  /** Requests refused so far (the metrics). */
  refusals = 0;

  constructor(
    settings: ThrottleSettings,
    private readonly clock: Clock = systemClock,
  ) {
    const limiters = settings.limiters ?? memoryLimiters;
    const { name, windowSeconds } = settings;
    // The failure that reaches a limit refuses for a full window from then: blockDuration = the window.
    const counter = (suffix: string, limit: number) =>
      new RateLimiterCounter(limiters.create({ name: `${name}:${suffix}`, points: limit, durationSeconds: windowSeconds, blockDurationSeconds: windowSeconds }));
    this.name = name;
    this.windowMs = windowSeconds * 1000;
    this.maxEntries = settings.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.addresses = counter('address', settings.failuresPerAddress);
    this.pairs = counter('address-key', settings.failuresPerKeyFromAddress);
    this.keys = settings.guardKeyAfter === undefined ? undefined : counter('key', settings.guardKeyAfter);
  }

  /**
   * Throws, or rejects with, ThrottledError while `ip` is refused, for `key` or for everything.
   * Undefined (synchronously) when the address has not failed within the window.
   */
  check(key: string | undefined, ip: string): Promise<void> | undefined {
    const address = throttledAddress(ip);
    if (!this.failedRecently(address)) return undefined; // the hot path
    return this.lookup(usable(key), address).catch((err: unknown) => {
      if (err instanceof ThrottledError) this.refusals++;
      throw err;
    });
  }

  /** Counts a failed attempt for `key` (undefined: none could be told) from `ip`. */
  async failed(key: string | undefined, ip: string): Promise<void> {
    const address = throttledAddress(ip);
    this.remember(address);
    const counted = usable(key);
    await Promise.all([
      this.addresses.consume(address),
      counted === undefined ? undefined : this.pairs.consume(pairKey(counted, address)),
      counted === undefined ? undefined : this.keys?.consume(counted),
    ]);
  }

  /** A successful attempt: forgets the failures of `key` from `ip` (not those of the address). Undefined when there are none. */
  succeeded(key: string, ip: string): Promise<void> | undefined {
    const address = throttledAddress(ip);
    const counted = usable(key);
    if (counted === undefined || !this.failedRecently(address)) return undefined;
    return this.pairs.delete(pairKey(counted, address));
  }

  private async lookup(key: string | undefined, address: string): Promise<void> {
    const [byAddress, pair, byKey] = await Promise.all([
      this.addresses.get(address),
      key === undefined ? null : this.pairs.get(pairKey(key, address)),
      key === undefined || this.keys === undefined ? null : this.keys.get(key),
    ]);
    refuseFor(refusedFor(byAddress, this.addresses.limit));
    if (pair === null) return;
    refuseFor(refusedFor(pair, this.pairs.limit));
    // The guard refuses only addresses that have failed for the key within their window.
    if (this.keys !== undefined && pair.failures > 0) {
      const guarded = refusedFor(byKey, this.keys.limit);
      if (guarded > 0) refuseFor(Math.min(guarded, pair.msLeft));
    }
  }

  private failedRecently(address: string): boolean {
    const until = this.recent.get(address);
    if (until === undefined) return false;
    if (until > this.clock.nowMs()) return true;
    this.recent.delete(address);
    return false;
  }

  /** Every counter's entry for the address lasts at most a window from now. */
  private remember(address: string): void {
    const now = this.clock.nowMs();
    this.recent.delete(address); // re-inserted last: the map stays in order of last failure
    this.recent.set(address, now + this.windowMs);
    if (this.recent.size > this.sweepAt) this.sweep(now);
  }

  private sweep(now: number): void {
    for (const [address, until] of this.recent) if (until <= now) this.recent.delete(address);
    // Still too many (failures from very many addresses within one window): forget the oldest,
    // down to three quarters of the bound so that the next sweep is some way off. Forgetting
    // can only let an address fail afresh, never refuse one.
    if (this.recent.size > this.maxEntries) {
      let excess = this.recent.size - Math.floor(this.maxEntries * 0.75);
      for (const address of this.recent.keys()) {
        if (excess-- <= 0) break;
        this.recent.delete(address);
      }
    }
    this.sweepAt = Math.min(this.maxEntries, Math.max(SWEEP_MIN, this.recent.size * 2));
  }
}

/** The key to count, or undefined for none (or one too long to be a client_id or an email). */
function usable(key: string | undefined): string | undefined {
  return key === undefined || key.length > MAX_KEY_LENGTH ? undefined : key;
}

function pairKey(key: string, address: string): string {
  return `${address} ${key}`;
}

/** Milliseconds until `count` is under `limit` again; 0 when it is. */
function refusedFor(count: FailureCount | null, limit: number): number {
  return count !== null && count.failures >= limit ? Math.max(1, count.msLeft) : 0;
}

function refuseFor(ms: number): void {
  if (ms > 0) throw new ThrottledError(ms / 1000);
}
