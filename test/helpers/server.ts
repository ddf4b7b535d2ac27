import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import type { TestDatabase } from './databases.js';

/**
 * Ports for servers tests start, from a block of 1,000 below the ephemeral range (32768–60999 on
 * Linux) that belongs to this worker alone (VITEST_POOL_ID), taken in turn from a random start. A
 * port that `listen(0)` handed out and was closed again could go to the other worker's next
 * `listen(0)` before our server binds it, and that server would fail with EADDRINUSE.
 */
const PORT_BLOCK = 1_000;
const portBlockStart = 20_000 + (Number(process.env.VITEST_POOL_ID ?? 0) % 5) * PORT_BLOCK;
let portTurn = randomInt(PORT_BLOCK);

/** A port on 127.0.0.1 that nothing listens on now and this process has not handed out lately. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_BLOCK; tries++) {
    const port = portBlockStart + (portTurn++ % PORT_BLOCK);
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port in ${portBlockStart}–${portBlockStart + PORT_BLOCK - 1}.`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-test-'));
}

/**
 * A real Portcullis listening on 127.0.0.1 with ISSUER equal to its own URL, as `portcullis serve`
 * runs it: embedded database in `dataDir`, or the PostgreSQL database `db` made.
 */
export async function startRealServer(opts: { dataDir: string; databaseUrl?: string; masterKey?: string; port?: number; env?: Record<string, string> }): Promise<RunningServer & { issuer: string }> {
  const port = opts.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATA_DIR: opts.dataDir,
    LOG_LEVEL: 'silent',
    SHUTDOWN_DRAIN_SECONDS: '0',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl, MASTER_KEY: opts.masterKey ?? randomBytes(32).toString('base64') } : {}),
    ...(opts.masterKey ? { MASTER_KEY: opts.masterKey } : {}),
    ...opts.env,
  });
  const server = await startServer(config);
  return Object.assign(server, { issuer });
}

/** A PostgreSQL database of the test run's own (its URL), or undefined for the embedded database. */
export async function databaseUrlFor(db: TestDatabase): Promise<string | undefined> {
  if (db.name === 'pglite') return undefined;
  const store = await db.open();
  await store.close();
  return db.url;
}
