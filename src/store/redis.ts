import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisSettings {
  /** REDIS_URL: a Redis or Valkey server (`redis://`, or `rediss://` for TLS). */
  url: string;
  /** REDIS_KEY_PREFIX: begins every key, so that deployments (or test runs) sharing a server never share a counter. */
  keyPrefix: string;
  /** REDIS_COMMAND_TIMEOUT: milliseconds a command may take before the caller falls back. */
  commandTimeoutMs: number;
  /** REDIS_CONNECT_TIMEOUT: milliseconds a connection attempt may take. */
  connectTimeoutMs: number;
}

/** Reconnection delay after the n-th failed attempt: quick at first, then every 2 s, for ever. */
const retryDelay = (attempt: number) => Math.min(attempt * 100, 2000);

/**
 * The process's one connection to Redis, which holds the counters every process shares
 * (throttle/limiters.ts). Redis is never what an answer waits for: commands are not queued
 * while it is unreachable (`enableOfflineQueue: false`), they are given up after
 * REDIS_COMMAND_TIMEOUT, and whoever used it falls back to counting in this process (and says
 * so through `fellBack`). The connection comes back by itself.
 *
 * It also knows whether Redis is up (the `portcullis_redis_up` metric), and logs an outage once,
 * when it starts, and once when it ends, not per request.
 */
export class SharedRedis {
  readonly client: Redis;
  readonly keyPrefix: string;
  private reachable = false;
  /** Whether the current outage has been logged (also one that began before the first connection). */
  private outageLogged = false;
  private fallbacks = 0;
  private closed = false;

  constructor(
    settings: RedisSettings,
    private readonly log?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.keyPrefix = settings.keyPrefix;
    this.client = new Redis(settings.url, {
      lazyConnect: true,
      commandTimeout: settings.commandTimeoutMs,
      connectTimeout: settings.connectTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A command given up on has been answered by the fallback: sending it again after a reconnection would count it twice.
      autoResendUnfulfilledCommands: false,
      retryStrategy: retryDelay,
      // The commands of one event-loop turn (the throttle and quota checks of the requests read
      // in it) go to Redis as one write, and come back as one read: measured under `npm run bench`
      // when every token request still made a round trip, that won a few per cent (docs/performance.md).
      enableAutoPipelining: true,
    });
    this.client.on('ready', () => this.becameReachable());
    // Without a listener, ioredis prints every failed reconnection attempt.
    this.client.on('error', (err: Error) => this.becameUnreachable(err.message));
    this.client.on('close', () => this.becameUnreachable('connection closed'));
  }

  /** Whether the last word from Redis was an answer (false before the first connection). */
  get up(): boolean {
    return this.reachable;
  }

  /** Limiter operations answered in this process's memory because Redis did not answer them. */
  get fallbackCount(): number {
    return this.fallbacks;
  }

  /**
   * Connects, waiting at most REDIS_CONNECT_TIMEOUT; never throws: when Redis is not there
   * yet, the process starts counting in its own memory and the connection keeps being retried.
   */
  async connect(): Promise<boolean> {
    try {
      await this.client.connect();
    } catch {
      // 'error' has logged it; ioredis retries on its own.
    }
    return this.reachable;
  }

  /**
   * A limiter could not use Redis (refused while not connected, failed, or timed out) and
   * counted in memory instead. A command that timed out on a connection that looks fine means
   * a server that accepts but does not answer (stopped, or overloaded): the connection is
   * dropped and reopened, so that the next requests are not each held for a command timeout
   * but fall back at once until Redis answers its ready check again.
   */
  fellBack(): void {
    this.fallbacks++;
    if (this.reachable && this.client.status === 'ready') {
      this.becameUnreachable('a command timed out or failed');
      // Destroyed, not ended: a server that does not run never finishes a polite close. ioredis reconnects on 'close'.
      this.client.stream.destroy();
    }
  }

  /** Drops the connection and stops reconnecting; resolves once it is closed (at most a second: a stop never waits for Redis). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.client.status === 'end') return;
    const ended = once(this.client, 'end');
    // No QUIT: nothing is waiting to be written (counters are written as they are counted), and a server that does not answer must not delay the stop.
    this.client.disconnect();
    this.client.stream?.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }

  private becameReachable(): void {
    if (this.outageLogged) this.log?.info('Redis answers again: rate limits and throttles are shared again');
    this.reachable = true;
    this.outageLogged = false;
  }

  private becameUnreachable(why: string): void {
    this.reachable = false;
    if (this.outageLogged || this.closed) return;
    this.outageLogged = true;
    this.log?.warn(`Redis is unreachable (${why}): rate limits and throttles count in each process until it answers again`);
  }
}
