import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKey, resolveMasterKey } from '../../src/keys/master-key.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-master-key-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('resolveMasterKey', () => {
  it('generates a 32-byte key into DATA_DIR/master.key (mode 0600) and reuses it', () => {
    const dataDir = path.join(tempDir(), 'data'); // not there yet: created
    const first = resolveMasterKey({ masterKey: undefined, databaseUrl: undefined, dataDir });
    expect(first.generated).toBe(true);
    expect(first.key).toHaveLength(32);
    const file = path.join(dataDir, 'master.key');
    expect(fs.readFileSync(file, 'utf8')).toBe(`${first.key.toString('base64')}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const second = resolveMasterKey({ masterKey: undefined, databaseUrl: undefined, dataDir });
    expect(second.generated).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('uses MASTER_KEY when given, base64 or base64url, and writes no file', () => {
    const dataDir = tempDir();
    const raw = randomBytes(32);
    for (const text of [raw.toString('base64'), raw.toString('base64url')]) {
      const resolved = resolveMasterKey({ masterKey: text, databaseUrl: undefined, dataDir });
      expect(resolved).toEqual({ key: raw, generated: false });
    }
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('requires MASTER_KEY with DATABASE_URL and writes no file', () => {
    const dataDir = tempDir();
    expect(() => resolveMasterKey({ masterKey: undefined, databaseUrl: 'postgres://db/portcullis', dataDir })).toThrow(/MASTER_KEY is required with DATABASE_URL/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('takes MASTER_KEY with DATABASE_URL', () => {
    const raw = randomBytes(32);
    expect(resolveMasterKey({ masterKey: raw.toString('base64'), databaseUrl: 'postgres://db/portcullis', dataDir: tempDir() }).key.equals(raw)).toBe(true);
  });

  it.each([
    ['3 bytes', 'short'],
    ['16 bytes', randomBytes(16).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
  ])('rejects a MASTER_KEY of the wrong length (%s), naming it', (_label, masterKey) => {
    expect(() => resolveMasterKey({ masterKey, databaseUrl: undefined, dataDir: tempDir() })).toThrow(/^MASTER_KEY: the master key must be 32 bytes, base64/);
  });

  it('rejects a damaged master.key file, naming the file, and leaves it alone', () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'master.key');
    fs.writeFileSync(file, 'dGVzdA==\n');
    expect(() => resolveMasterKey({ masterKey: undefined, databaseUrl: undefined, dataDir })).toThrow(`${file}: the master key must be 32 bytes`);
    expect(fs.readFileSync(file, 'utf8')).toBe('dGVzdA==\n');
  });
});

describe('deriveKey', () => {
  it('gives independent, stable 32-byte subkeys per purpose', () => {
    const master = randomBytes(32);
    const pepper = deriveKey(master, 'client-secret-pepper');
    const kek = deriveKey(master, 'signing-key-encryption');
    expect(pepper).toHaveLength(32);
    expect(kek).toHaveLength(32);
    expect(pepper.equals(kek)).toBe(false);
    expect(pepper.equals(master)).toBe(false);
    expect(deriveKey(master, 'client-secret-pepper').equals(pepper)).toBe(true);
    expect(deriveKey(randomBytes(32), 'client-secret-pepper').equals(pepper)).toBe(false);
  });
});
