import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { randomBase62 } from '../ids.js';
import type { Database } from '../store/schema.js';

export type OneTimeKind = 'setup' | 'invite';

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A single-use link token: 256 random bits, stored as SHA-256 only. */
export async function issueOneTimeToken(db: Kysely<Database>, kind: OneTimeKind, userId: string | null, expiresAt: Date): Promise<string> {
  const token = randomBase62(256);
  await db.insertInto('one_time_tokens').values({ token_hash: tokenHash(token), kind, user_id: userId, expires_at: expiresAt }).execute();
  return token;
}

/**
 * Marks the token used and returns its user id (or null for a setup token), or undefined when the token
 * is unknown, of another kind, used or expired. One UPDATE: two concurrent uses cannot both succeed.
 */
export async function consumeOneTimeToken(db: Kysely<Database>, kind: OneTimeKind, token: string, now: Date): Promise<{ userId: string | null } | undefined> {
  const row = await db
    .updateTable('one_time_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash(token))
    .where('kind', '=', kind)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('user_id')
    .executeTakeFirst();
  return row ? { userId: row.user_id } : undefined;
}
