import { randomFillSync } from 'node:crypto';

/** Bytes of CSPRNG output fetched at once: 256 token ids per call into OpenSSL. */
const POOL_BYTES = 4096;
const ID_BYTES = 16;

const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * A token id (`jti`): 128 random bits, base64url (22 characters). The bytes come from
 * node:crypto's CSPRNG in blocks and every byte is handed out once, as Node does for
 * `randomUUID()`: one `randomBytes(16)` per token measured about 6% of the token
 * path's CPU (docs/performance.md), most of it per-call overhead.
 */
export function newTokenId(): string {
  if (offset + ID_BYTES > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}
