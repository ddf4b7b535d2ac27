import { createHash } from 'node:crypto';
import { randomBase62 } from '../ids.js';
import type { Repositories } from '../store/repositories/index.js';
import type { OneTimeKind, OneTimeUse } from '../store/repositories/users.js';

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * A single-use link token: 256 random bits, stored as SHA-256 only. `orgId` makes an invite
 * token an invitation to that organization; `mailed` records that it went to the user's address.
 */
export async function issueOneTimeToken(repos: Repositories, kind: OneTimeKind, userId: string | null, expiresAt: Date, opts: { orgId?: string | null; mailed?: boolean } = {}): Promise<string> {
  const token = randomBase62(256);
  await repos.users.insertOneTimeToken({ hash: tokenHash(token), kind, userId, orgId: opts.orgId ?? null, mailed: opts.mailed ?? false, expiresAt });
  return token;
}

/** Marks the token used and returns what it is for, or undefined when it is not a live token of that kind. */
export async function consumeOneTimeToken(repos: Repositories, kind: OneTimeKind, token: string, now: Date): Promise<OneTimeUse | undefined> {
  return repos.users.consumeOneTimeToken(tokenHash(token), kind, now);
}

/** What a live token of that kind is for, without using it; undefined when it is not one. */
export async function peekOneTimeToken(repos: Repositories, kind: OneTimeKind, token: string, now: Date): Promise<OneTimeUse | undefined> {
  return repos.users.liveOneTimeToken(tokenHash(token), kind, now);
}
