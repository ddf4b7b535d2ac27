import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { Allowance } from '../throttle/allowance.js';
import type { Limiters } from '../throttle/limiters.js';

type Result = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Result) => void;

/**
 * @fastify/rate-limit's options for where it counts: with shared limiters (REDIS_URL), a store
 * over them, so that a route's limit holds across every process and node and, like every
 * other limit, falls back to this process's memory while Redis does not answer (the
 * plugin's own Redis store would instead fail the request, or with skipOnError not limit
 * at all). Each limit is counted through an Allowance: points are taken from Redis in batches,
 * not a round trip per request. Without, nothing: the plugin's own in-memory store, as fast as it gets.
 *
 * `name` prefixes the limiters' names; each route gets its own (`<name>:<METHOD><url>`).
 */
export function rateLimitStore(limiters: Limiters, name: string): { store?: FastifyRateLimitStoreCtor } {
  if (!limiters.shared) return {};
  class LimiterStore implements FastifyRateLimitStore {
    /**
     * One limiter per (max, window): the plugin passes both with every count. They share the
     * scope's keys, which count requests whatever the limit they are held to.
     */
    private readonly byLimit = new Map<string, Allowance>();

    /** The plugin constructs the store with its options, which the store does not need (each count brings its max and window). */
    constructor(
      _options?: object,
      private readonly scope: string = name,
    ) {}

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.allowanceFor(timeWindow, max)
        .consume(key)
        .then(
          // Past its points (`current > max`), the plugin answers 429 itself.
          (res) => callback(null, { current: res.consumed, ttl: res.msBeforeNext }),
          (err: unknown) => callback(err as Error),
        );
    }

    child(routeOptions: object): FastifyRateLimitStore {
      const route = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo;
      return new LimiterStore(undefined, `${name}:${String(route?.method ?? '')}${String(route?.url ?? '')}`);
    }

    private allowanceFor(timeWindowMs: number, max: number): Allowance {
      const id = `${max}/${timeWindowMs}`;
      let allowance = this.byLimit.get(id);
      if (!allowance) {
        // rate-limiter-flexible counts whole seconds.
        const limiter = limiters.create({ name: this.scope, points: max, durationSeconds: Math.max(1, Math.ceil(timeWindowMs / 1000)) });
        allowance = new Allowance(limiter, max, () => limiters.answering());
        this.byLimit.set(id, allowance);
      }
      return allowance;
    }
  }
  return { store: LimiterStore as unknown as FastifyRateLimitStoreCtor };
}
