import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabases } from './helpers/databases.js';
import { seedClient } from './helpers/portcullis.js';
import { databaseUrlFor, freePort, startRealServer, tempDataDir } from './helpers/server.js';

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
});
