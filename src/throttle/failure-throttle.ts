import { nowMs, systemClock, type Clock } from '../clock.js';
import { ThrottledError } from '../errors/domain-errors.js';
import { throttledAddress } from './address.js';
import { keep, Tallies } from './tallies.js';

export interface ThrottleSettings {
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
  /** Entries kept per counter at most (default 65,536); past it the oldest are forgotten. */
  maxEntries?: number;
}

/** Longer keys (no client_id or email is this long) are counted by their address only, so a key cannot be a way to fill memory. */
const MAX_KEY_LENGTH = 320;
const DEFAULT_MAX_ENTRIES = 65_536;

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
 * address's failures). All in memory, per process, on the injected clock. Checking costs one
 * synchronous map lookup while the address has not failed: the token path checks on every
 * request.
 */
export class FailureThrottle {
  private readonly addresses: Tallies;
  private readonly pairs: Tallies;
  private readonly keys: Tallies | undefined;

  constructor(
    settings: ThrottleSettings,
    private readonly clock: Clock = systemClock,
  ) {
    const windowMs = settings.windowSeconds * 1000;
    const max = settings.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.addresses = new Tallies(settings.failuresPerAddress, windowMs, max);
    this.pairs = new Tallies(settings.failuresPerKeyFromAddress, windowMs, max);
    this.keys = settings.guardKeyAfter === undefined ? undefined : new Tallies(settings.guardKeyAfter, windowMs, max);
  }

  /** Throws ThrottledError while `ip` is refused, for `key` or for everything. */
  check(key: string | undefined, ip: string): void {
    const now = nowMs(this.clock);
    const address = throttledAddress(ip);
    const byAddress = this.addresses.live(address, now);
    if (byAddress === undefined) return; // the hot path: an address without recent failures
    refuseFor(this.addresses.blockedFor(byAddress, now));
    if (key === undefined || key.length > MAX_KEY_LENGTH) return;
    const pair = this.pairs.live(pairKey(key, address), now);
    if (pair === undefined) return;
    refuseFor(this.pairs.blockedFor(pair, now));
    // The guard refuses only addresses that have failed for the key within their window.
    if (this.keys !== undefined && pair.count > 0) {
      const byKey = this.keys.live(key, now);
      const guarded = this.keys.blockedFor(byKey, now);
      if (guarded > 0) refuseFor(Math.min(guarded, pair.resetAt - now));
    }
  }

  /** Counts a failed attempt for `key` (undefined: none could be told) from `ip`. */
  failed(key: string | undefined, ip: string): void {
    const now = nowMs(this.clock);
    const address = throttledAddress(ip);
    const byAddress = this.addresses.add(address, now);
    if (key === undefined || key.length > MAX_KEY_LENGTH) return;
    const pair = this.pairs.add(pairKey(key, address), now);
    // The address's entry must outlive the tallies that are only consulted through it.
    keep(byAddress, pair.keepUntil);
    this.keys?.add(key, now);
  }

  /** A successful attempt: forgets the failures of `key` from `ip` (not those of the address). */
  succeeded(key: string, ip: string): void {
    const address = throttledAddress(ip);
    if (this.addresses.live(address, nowMs(this.clock)) === undefined) return;
    this.pairs.delete(pairKey(key, address));
  }
}

function pairKey(key: string, address: string): string {
  return `${address} ${key}`;
}

function refuseFor(ms: number): void {
  if (ms > 0) throw new ThrottledError(ms / 1000);
}
