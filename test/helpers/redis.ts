import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { SharedRedis } from '../../src/store/redis.js';
import { freePort } from './server.js';

/**
 * The shared Redis the tests count in (TEST_REDIS_URL, default the local one). Every test run
 * keeps to a key prefix of its own (`testRedisPrefix()`), removed afterwards, so runs never
 * share a counter. Outside CI a missing server skips the suites that need it, with a message;
 * in CI it fails them.
 */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisReachable(): Promise<boolean> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 2000, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export const redisAvailable = await redisReachable();
if (!redisAvailable) {
  if (process.env.CI === 'true') throw new Error(`Redis is not reachable at ${TEST_REDIS_URL}; CI must run the Redis suites.`);
  console.warn(`[portcullis tests] Redis not reachable at ${TEST_REDIS_URL}: skipping the shared-limit suites (set TEST_REDIS_URL).`);
}

/** A key prefix no other test run uses. */
export function testRedisPrefix(): string {
  return `portcullis-test:${process.pid}-${randomBytes(4).toString('hex')}:`;
}

/**
 * Connections to the shared Redis under `prefix` (or another prefix given to `open`), each one
 * as a separate process would hold it; a suite's `afterAll` closes them and removes the prefix's keys.
 */
export function sharedRedisConnections(prefix: string): { open(keyPrefix?: string): Promise<SharedRedis> } {
  const connections: SharedRedis[] = [];
  afterAll(async () => {
    for (const redis of connections) await redis.close();
    await deleteRedisPrefix(prefix);
  });
  return {
    async open(keyPrefix = prefix) {
      const redis = new SharedRedis({ url: TEST_REDIS_URL, keyPrefix, commandTimeoutMs: 1000, connectTimeoutMs: 2000 });
      connections.push(redis);
      expect(await redis.connect()).toBe(true);
      return redis;
    },
  };
}

/** The keys under `prefix` in the shared Redis. */
export async function redisKeys(prefix: string): Promise<string[]> {
  const client = new Redis(TEST_REDIS_URL);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  } finally {
    client.disconnect();
  }
}

/** Removes every key under `prefix` from the shared Redis. */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const keys = await redisKeys(prefix);
  if (keys.length === 0) return;
  const client = new Redis(TEST_REDIS_URL);
  try {
    await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

/**
 * A redis-server of the test's own, on a free port in a temporary folder, nothing persisted,
 * for tests that stop, kill or freeze Redis: the shared one is never touched.
 */
export interface OwnRedis {
  url: string;
  /** SIGKILL: gone as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that accepts connections and answers nothing. */
  freeze(): void;
  thaw(): void;
  dispose(): Promise<void>;
}

export function ownRedisMissing(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'no redis-server on the PATH (apt-get install redis-server)';
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      for (;;) {
        try {
          await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          probe.disconnect();
          if (Date.now() > end) throw new Error(`redis-server did not start on port ${port}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      probe.disconnect();
    }
  };
  const kill = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    kill,
    start,
    freeze: () => server?.kill('SIGSTOP'),
    thaw: () => server?.kill('SIGCONT'),
    dispose: async () => {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
