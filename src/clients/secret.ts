import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { BASE62_DIGITS, base62 } from '../ids.js';

/**
 * Client secrets: `pcs_` + 43 base62 characters (256 random bits) + 6 base62
 * characters of CRC32 over the rest. The prefix lets secret scanners find a
 * leaked secret; the checksum rejects a mistyped or truncated one before any
 * lookup. Secrets are stored as HMAC-SHA-256 under a server-side pepper: they
 * carry 256 bits of entropy, so a slow password hash would add CPU to every
 * token request and buy nothing (docs/architecture.md, "Client secrets").
 */
export const SECRET_PREFIX = 'pcs_';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const SECRET_LENGTH = SECRET_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
const SECRET_PATTERN = new RegExp(`^${SECRET_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);
const HINT_LENGTH = 4;

export function generateSecret(): string {
  const body = SECRET_PREFIX + base62(randomBytes(32), BODY_LENGTH);
  return body + checksum(body);
}

/** True when `value` has the shape and checksum of a secret we issued. Cheap; rejects typos before hashing. */
export function isWellFormedSecret(value: string): boolean {
  if (value.length !== SECRET_LENGTH || !SECRET_PATTERN.test(value)) return false;
  const body = value.slice(0, -CHECKSUM_LENGTH);
  return checksum(body) === value.slice(-CHECKSUM_LENGTH);
}

/** What administrators see after creation: the last characters, enough to tell two secrets apart. */
export function secretHint(secret: string): string {
  return secret.slice(-HINT_LENGTH);
}

/** CRC32 of `body` in base62, left-padded (checked on every token request, so plain numbers, not BigInt). */
function checksum(body: string): string {
  let crc = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62_DIGITS[crc % 62] + out;
    crc = Math.floor(crc / 62);
  }
  return out;
}

/** Hashes and compares secrets under one pepper (derived from MASTER_KEY, see keys/master-key.ts). */
export class SecretHasher {
  constructor(private readonly pepper: Buffer) {}

  hash(secret: string): Buffer {
    return createHmac('sha256', this.pepper).update(secret).digest();
  }

  /** Index of the stored hash that `secret` matches, or -1; constant-time per comparison. */
  match(secret: string, hashes: readonly Buffer[]): number {
    const candidate = this.hash(secret);
    let found = -1;
    // Compare against every hash (no early exit) so timing does not tell which one matched.
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i] as Buffer;
      if (h.length === candidate.length && timingSafeEqual(h, candidate) && found < 0) found = i;
    }
    return found;
  }
}
