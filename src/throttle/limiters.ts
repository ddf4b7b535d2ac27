import { type IRateLimiterOptions, RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { SharedRedis } from '../store/redis.js';

export interface LimiterSpec {
  /** Names the limiter's keys; unique among limiters (a shared store has one key space for all of them). */
  name: string;
  /** What a key may consume within a window. */
  points: number;
  /** The window, in seconds, from a key's first consumption. */
  durationSeconds: number;
  /** Seconds a key stays refused once `block`ed or past its points (rate-limiter-flexible's blockDuration); default 0: till the window ends. */
  blockDurationSeconds?: number;
}

/**
 * Where every counted limit lives: rate limits, failure throttles, and quotas. Without
 * REDIS_URL, in this process's memory; with it, in Redis, shared by every process and node,
 * each limiter with a memory twin that counts for this process alone whenever Redis does not
 * answer (rate-limiter-flexible's insuranceLimiter), so that a Redis outage loosens the limits
 * to per-process ones and never refuses or delays a request.
 *
 * A limiter's `consume` is one round trip to Redis (one EVAL), `get` one pipeline.
 */
export interface Limiters {
  /** Whether the limiters count in a store every process shares. */
  readonly shared: boolean;
  /** Whether that store answers now (its limiters are not counting in this process's memory instead); in memory, always. */
  answering(): boolean;
  create(spec: LimiterSpec): RateLimiterAbstract;
}

function options(spec: LimiterSpec, keyPrefix: string): IRateLimiterOptions {
  return { keyPrefix, points: spec.points, duration: spec.durationSeconds, blockDuration: spec.blockDurationSeconds ?? 0 };
}

/** Limiters in this process's memory (rate-limiter-flexible's RateLimiterMemory, on Date.now()). */
export const memoryLimiters: Limiters = {
  shared: false,
  answering: () => true,
  create: (spec) => new RateLimiterMemory(options(spec, spec.name)),
};

/** Limiters in Redis under its key prefix (`<REDIS_KEY_PREFIX><name>:<key>`), each insured by a memory limiter. */
export function redisLimiters(redis: SharedRedis): Limiters {
  return {
    shared: true,
    answering: () => redis.up,
    create: (spec) =>
      new RateLimiterRedis({
        ...options(spec, `${redis.keyPrefix}${spec.name}`),
        storeClient: redis.client,
        // Not connected: straight to the insurance, rather than a command that ioredis would refuse anyway.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new Insurance(options(spec, spec.name), () => redis.fellBack()),
      }),
  };
}

/**
 * The memory limiter a Redis limiter falls back to. rate-limiter-flexible calls it exactly
 * when Redis failed to answer, and tells nobody else, so it reports each call to SharedRedis
 * (the fallback metric, and noticing a server that has stopped answering).
 */
class Insurance extends RateLimiterMemory {
  constructor(
    opts: IRateLimiterOptions,
    private readonly onUse: () => void,
  ) {
    super(opts);
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.onUse();
    return super.consume(...args);
  }

  override penalty(...args: Parameters<RateLimiterMemory['penalty']>) {
    this.onUse();
    return super.penalty(...args);
  }

  override reward(...args: Parameters<RateLimiterMemory['reward']>) {
    this.onUse();
    return super.reward(...args);
  }

  override get(...args: Parameters<RateLimiterMemory['get']>) {
    this.onUse();
    return super.get(...args);
  }

  override set(...args: Parameters<RateLimiterMemory['set']>) {
    this.onUse();
    return super.set(...args);
  }

  override block(...args: Parameters<RateLimiterMemory['block']>) {
    this.onUse();
    return super.block(...args);
  }

  override delete(...args: Parameters<RateLimiterMemory['delete']>) {
    this.onUse();
    return super.delete(...args);
  }
}
