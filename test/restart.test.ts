import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabases } from './helpers/databases.js';
import { seedClient } from './helpers/portcullis.js';
import { databaseUrlFor, freePort, startRealServer, tempDataDir } from './helpers/server.js';
import { spawnServerProcess } from './helpers/spawn-server.js';

async function token(issuer: string, c: { clientId: string; secret: string; apiIdentifier: string }) {
  return fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience: c.apiIdentifier }),
  });
}

describe.each(testDatabases())('restart on $name', (db) => {
  afterAll(async () => {
    await db.dispose();
  });

  it('keeps clients, secrets and signing keys across a restart on the same data', async () => {
    const databaseUrl = await databaseUrlFor(db);
    const dataDir = tempDataDir();
    // Embedded mode generates the master key into DATA_DIR; PostgreSQL mode needs it given.
    const masterKey = databaseUrl ? randomBytes(32).toString('base64') : undefined;
    const port = await freePort();
    const opts = { dataDir, port, ...(databaseUrl ? { databaseUrl } : {}), ...(masterKey ? { masterKey } : {}) };

    const first = await startRealServer(opts);
    const c = await seedClient(first.runtime);
    const before = await token(first.issuer, c);
    expect(before.status).toBe(200);
    const jwksBefore = await (await fetch(`${first.issuer}/.well-known/jwks.json`)).json();
    await first.close();

    const second = await startRealServer(opts);
    try {
      const after = await token(second.issuer, c);
      expect(after.status).toBe(200);
      expect(await (await fetch(`${second.issuer}/.well-known/jwks.json`)).json()).toEqual(jwksBefore);
      const client = await second.runtime.clients.get(c.orgId, c.clientId);
      expect(client.secret_hint).toBe(c.secret.slice(-4));
    } finally {
      await second.close();
    }
  });
});

describe('embedded database', () => {
  it('refuses a second process on the same DATA_DIR while one runs, naming the fix', async () => {
    const dataDir = tempDataDir();
    const server = await startRealServer({ dataDir });
    try {
      // The lock file names a live process other than this one: a second server (or `keys rotate`) must refuse.
      const { writeFileSync } = await import('node:fs');
      writeFileSync(`${dataDir}/portcullis.lock`, String(process.ppid));
      await expect(startRealServer({ dataDir })).rejects.toThrow(/in use by process .*Stop that server first/);
    } finally {
      await server.close();
    }
  });

  const running: ChildProcess[] = [];
  afterAll(() => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** `portcullis serve` as its own process on `dataDir`; resolves once /readyz answers 200, or with its exit and output. */
  async function serve(dataDir: string): Promise<{ child: ChildProcess; url: string; ready: boolean; output: () => string }> {
    const port = await freePort();
    let output = '';
    const child = spawnServerProcess({ PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_SECONDS: '0' });
    running.push(child);
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    // 'close', not 'exit': by then everything the process printed has been read from its pipes.
    const closed = once(child, 'close').then(() => false);
    const ready = (async () => {
      const end = Date.now() + 60_000;
      while (child.exitCode === null && Date.now() < end) {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    })();
    const isReady = await Promise.race([ready, closed]);
    if (!isReady && (child.exitCode !== null || child.signalCode !== null)) await closed;
    return { child, url: `http://127.0.0.1:${port}`, ready: isReady, output: () => output };
  }

  it('starts again at once after a kill -9, every time, and still refuses a second live process', async () => {
    const dataDir = tempDataDir();
    for (let round = 1; round <= 3; round++) {
      // The lock of the killed process is left behind; its pid and start time tell it is not alive.
      const server = await serve(dataDir);
      expect(server.ready, `round ${round}:\n${server.output()}`).toBe(true);
      const killed = once(server.child, 'exit');
      server.child.kill('SIGKILL');
      await killed;
    }
    const first = await serve(dataDir);
    expect(first.ready, first.output()).toBe(true);
    const second = await serve(dataDir);
    expect(second.ready).toBe(false);
    expect(second.child.exitCode).not.toBe(0);
    expect(second.output()).toMatch(/in use by process .*Stop that server first/);
    // The refused start took nothing from the running one.
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
  }, 240_000);
});
