import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptPrivateKey, encryptPrivateKey } from '../../src/keys/key-encryption.js';

const kek = randomBytes(32);
const jwk = JSON.stringify({ kty: 'EC', crv: 'P-256', d: 'private-part', x: 'x', y: 'y' });

function parts(sealed: string): [string, string, string, string] {
  const p = sealed.split('.');
  expect(p).toHaveLength(4);
  return p as [string, string, string, string];
}

describe('signing key encryption at rest', () => {
  it('round-trips', () => {
    const sealed = encryptPrivateKey(kek, 'kid-1', jwk);
    expect(decryptPrivateKey(kek, 'kid-1', sealed)).toBe(jwk);
  });

  it('is v1.<iv>.<ciphertext>.<tag>, never contains the plaintext, and uses a fresh IV each time', () => {
    const a = encryptPrivateKey(kek, 'kid-1', jwk);
    const b = encryptPrivateKey(kek, 'kid-1', jwk);
    const [version, iv, , tag] = parts(a);
    expect(version).toBe('v1');
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(a).not.toContain('private-part');
    expect(a).not.toBe(b);
    expect(parts(a)[1]).not.toBe(parts(b)[1]);
  });

  it('fails with a clear message under the wrong key', () => {
    const sealed = encryptPrivateKey(kek, 'kid-1', jwk);
    expect(() => decryptPrivateKey(randomBytes(32), 'kid-1', sealed)).toThrow('signing key kid-1 cannot be decrypted: MASTER_KEY is not the key it was stored with, or the stored key was altered');
  });

  it('fails when the ciphertext is moved to another kid', () => {
    const sealed = encryptPrivateKey(kek, 'kid-1', jwk);
    expect(() => decryptPrivateKey(kek, 'kid-2', sealed)).toThrow('signing key kid-2 cannot be decrypted: MASTER_KEY is not the key it was stored with, or the stored key was altered');
  });

  it('fails when the ciphertext or tag is altered', () => {
    const [v, iv, ct, tag] = parts(encryptPrivateKey(kek, 'kid-1', jwk));
    const flipped = Buffer.from(ct, 'base64url');
    flipped[0]! ^= 1;
    expect(() => decryptPrivateKey(kek, 'kid-1', [v, iv, flipped.toString('base64url'), tag].join('.'))).toThrow(/^signing key kid-1 cannot be decrypted/);
    const otherTag = Buffer.from(tag, 'base64url');
    otherTag[15]! ^= 1;
    expect(() => decryptPrivateKey(kek, 'kid-1', [v, iv, ct, otherTag.toString('base64url')].join('.'))).toThrow(/^signing key kid-1 cannot be decrypted/);
  });

  it('rejects a truncated authentication tag (GCM would otherwise check only its first bytes)', () => {
    const [v, iv, ct, tag] = parts(encryptPrivateKey(kek, 'kid-1', jwk));
    for (const length of [4, 8, 12, 15]) {
      const truncated = Buffer.from(tag, 'base64url').subarray(0, length).toString('base64url');
      expect(() => decryptPrivateKey(kek, 'kid-1', [v, iv, ct, truncated].join('.'))).toThrow(/^signing key kid-1 cannot be decrypted/);
    }
  });

  it('rejects an unknown format, naming the key', () => {
    expect(() => decryptPrivateKey(kek, 'kid-1', 'plain-jwk')).toThrow('signing key kid-1: unknown encryption format');
    const [, iv, ct, tag] = parts(encryptPrivateKey(kek, 'kid-1', jwk));
    expect(() => decryptPrivateKey(kek, 'kid-1', ['v2', iv, ct, tag].join('.'))).toThrow('signing key kid-1: unknown encryption format');
  });
});
