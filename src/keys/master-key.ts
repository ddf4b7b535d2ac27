import fs from 'node:fs';
import path from 'node:path';
import { hkdfSync, randomBytes } from 'node:crypto';

/**
 * The master key (32 bytes) from MASTER_KEY, or, in embedded mode only, from
 * `DATA_DIR/master.key`, generated there (mode 0600) on the first start.
 * With a PostgreSQL server a missing MASTER_KEY is an error: several nodes must
 * share the key, and a key generated on one machine's disk would be lost with it.
 */
export function resolveMasterKey(opts: { masterKey: string | undefined; databaseUrl: string | undefined; dataDir: string }): {
  key: Buffer;
  generated: boolean;
} {
  if (opts.masterKey) return { key: decode(opts.masterKey, 'MASTER_KEY'), generated: false };
  if (opts.databaseUrl) {
    throw new Error('MASTER_KEY is required with DATABASE_URL (all nodes must share it). Generate one with: ' + `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`);
  }
  const file = path.join(opts.dataDir, 'master.key');
  try {
    return { key: decode(fs.readFileSync(file, 'utf8').trim(), file), generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { key, generated: true };
}

function decode(text: string, source: string): Buffer {
  const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new Error(`${source}: the master key must be 32 bytes, base64 (got ${key.length} bytes)`);
  return key;
}

/** A purpose-bound subkey, so the secret pepper and the key-encryption key are independent. */
export function deriveKey(master: Buffer, purpose: 'client-secret-pepper' | 'signing-key-encryption' | 'dpop-nonce'): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `portcullis/${purpose}/v1`, 32));
}
