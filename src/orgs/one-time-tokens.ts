import { createHash } from 'node:crypto';
import { randomBase62 } from '../ids.js';
import type { Repositories } from '../store/repositories/index.js';
import type { OneTimeKind } from '../store/repositories/users.js';

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A single-use link token: 256 random bits, stored as SHA-256 only. */
export async function issueOneTimeToken(repos: Repositories, kind: OneTimeKind, userId: string | null, expiresAt: Date): Promise<string> {
  const token = randomBase62(256);
  await repos.users.insertOneTimeToken({ hash: tokenHash(token), kind, userId, expiresAt });
  return token;
}

/** Marks the token used and returns its user id (null for a setup token), or undefined when it is not a live token of that kind. */
export async function consumeOneTimeToken(repos: Repositories, kind: OneTimeKind, token: string, now: Date): Promise<{ userId: string | null } | undefined> {
  return repos.users.consumeOneTimeToken(tokenHash(token), kind, now);
}
