import { randomBytes } from 'node:crypto';

export const BASE62_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 digits of a non-negative big-endian integer given as bytes, left-padded to `length`. */
export function base62(bytes: Uint8Array, length: number): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = BASE62_DIGITS[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(length, '0');
}

/** `length` base62 characters carrying `bits` bits of randomness (rounded up to whole bytes). */
export function randomBase62(bits: number): string {
  const bytes = Math.ceil(bits / 8);
  return base62(randomBytes(bytes), Math.ceil((bytes * 8) / Math.log2(62)));
}

/** Public identifiers: a short type prefix and 128 random bits (`org_…`, `sec_…`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(128)}`;
}

/** A client_id: 128 random bits, base62 (22 characters), no prefix so it reads like other servers' ids. */
export function newClientId(): string {
  return randomBase62(128);
}
