import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import type { TestDatabase } from './databases.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
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
