import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SECRET_LENGTH, SECRET_PREFIX, SecretHasher, generateSecret, isWellFormedSecret, secretHint } from '../../src/clients/secret.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `secret` with the character at `index` replaced by `replacement`. */
function replaceAt(secret: string, index: number, replacement: string): string {
  return secret.slice(0, index) + replacement + secret.slice(index + 1);
}

describe('client secret format', () => {
  it('is pcs_ + 49 base62 characters (43 random, 6 checksum)', () => {
    const secret = generateSecret();
    expect(SECRET_PREFIX).toBe('pcs_');
    expect(SECRET_LENGTH).toBe(53);
    expect(secret).toMatch(/^pcs_[0-9A-Za-z]{49}$/);
    expect(isWellFormedSecret(secret)).toBe(true);
  });

  it('keeps the checksum of secrets issued before: CRC32 as a 6-digit base62 number, zero-padded', () => {
    // A fixed secret, its checksum computed independently (CRC32 → big-endian base62), so a change in how
    // the checksum is computed cannot silently invalidate every secret already handed out.
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Za-z]{43}$/), (random) => {
        const body = SECRET_PREFIX + random;
        let crc = BigInt(crc32(body));
        let digits = '';
        while (crc > 0n) {
          digits = BASE62[Number(crc % 62n)] + digits;
          crc /= 62n;
        }
        expect(isWellFormedSecret(body + digits.padStart(6, '0'))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('is different every time', () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateSecret()));
    expect(secrets.size).toBe(200);
  });

  it('rejects a one-character typo by its checksum', () => {
    const secret = generateSecret();
    const i = 10;
    const typo = replaceAt(secret, i, secret[i] === 'a' ? 'b' : 'a');
    expect(typo).toMatch(/^pcs_[0-9A-Za-z]{49}$/); // still the right shape: only the checksum catches it
    expect(isWellFormedSecret(typo)).toBe(false);
  });

  it('rejects a wrong prefix, a truncated or extended secret, and other alphabets', () => {
    const secret = generateSecret();
    expect(isWellFormedSecret(`pcx_${secret.slice(4)}`)).toBe(false);
    expect(isWellFormedSecret(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedSecret(`${secret}a`)).toBe(false);
    expect(isWellFormedSecret(replaceAt(secret, 20, '-'))).toBe(false);
    expect(isWellFormedSecret(` ${secret}`)).toBe(false);
    expect(isWellFormedSecret('')).toBe(false);
  });

  it('hint is the last 4 characters', () => {
    const secret = generateSecret();
    expect(secretHint(secret)).toBe(secret.slice(-4));
    expect(secretHint(secret)).toHaveLength(4);
    expect(secretHint('pcs_abcdWXYZ')).toBe('WXYZ');
  });

  it('property: every generated secret is well-formed', () => {
    fc.assert(
      fc.property(fc.integer(), () => {
        const secret = generateSecret();
        return secret.length === SECRET_LENGTH && /^pcs_[0-9A-Za-z]{49}$/.test(secret) && isWellFormedSecret(secret);
      }),
      { numRuns: 500 },
    );
  });

  it('property: any single-character change breaks it', () => {
    const secret = generateSecret();
    fc.assert(
      fc.property(
        fc.nat({ max: SECRET_LENGTH - 1 }),
        // Mostly base62 (the typos a checksum must catch), sometimes anything printable.
        fc.oneof(fc.constantFrom(...BASE62.split('')), fc.string({ minLength: 1, maxLength: 1 })),
        (index, replacement) => {
          fc.pre(secret[index] !== replacement);
          return !isWellFormedSecret(replaceAt(secret, index, replacement));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: any single-character change breaks any generated secret', () => {
    fc.assert(
      fc.property(fc.nat({ max: SECRET_LENGTH - 1 }), fc.constantFrom(...BASE62.split('')), (index, replacement) => {
        const secret = generateSecret();
        fc.pre(secret[index] !== replacement);
        return !isWellFormedSecret(replaceAt(secret, index, replacement));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('SecretHasher', () => {
  const pepper = randomBytes(32);
  const hasher = new SecretHasher(pepper);

  it('hashes as HMAC-SHA-256 under the pepper', () => {
    const secret = generateSecret();
    const hash = hasher.hash(secret);
    expect(hash).toHaveLength(32);
    expect(hash.equals(createHmac('sha256', pepper).update(secret).digest())).toBe(true);
    expect(hash.equals(new SecretHasher(randomBytes(32)).hash(secret))).toBe(false);
  });

  it('match returns the index of the matching hash', () => {
    const [a, b, c] = [generateSecret(), generateSecret(), generateSecret()];
    const hashes = [hasher.hash(a), hasher.hash(b), hasher.hash(c)];
    expect(hasher.match(a, hashes)).toBe(0);
    expect(hasher.match(b, hashes)).toBe(1);
    expect(hasher.match(c, hashes)).toBe(2);
  });

  it('match returns the first index when a hash is listed twice', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(hasher.match(a, [hasher.hash(b), hasher.hash(a), hasher.hash(a)])).toBe(1);
  });

  it('match returns -1 for no match, an empty list, a wrong pepper or a malformed stored hash', () => {
    const a = generateSecret();
    expect(hasher.match(a, [hasher.hash(generateSecret()), hasher.hash(generateSecret())])).toBe(-1);
    expect(hasher.match(a, [])).toBe(-1);
    expect(hasher.match(a, [new SecretHasher(randomBytes(32)).hash(a)])).toBe(-1);
    expect(hasher.match(a, [hasher.hash(a).subarray(0, 16)])).toBe(-1);
    expect(hasher.match(a.slice(0, -1), [hasher.hash(a)])).toBe(-1);
  });
});
