import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Cross-process change notices over PostgreSQL NOTIFY (PGlite has it too).
 * Sent inside the writing transaction, a notice is delivered only if that
 * transaction commits, so no process drops a cache entry for a change that
 * never happened, and none misses one that did (short of a lost connection,
 * after which listeners flush everything; see Store.listen).
 */
export const CHANGES_CHANNEL = 'portcullis_changes';

export type Change = { kind: 'client'; clientId: string } | { kind: 'catalog' } | { kind: 'keys' };

export async function notifyChange(db: Kysely<Database>, change: Change): Promise<void> {
  await sql`select pg_notify(${CHANGES_CHANNEL}, ${encodeChange(change)})`.execute(db);
}

export function encodeChange(change: Change): string {
  return change.kind === 'client' ? `client:${change.clientId}` : change.kind;
}

export function decodeChange(payload: string): Change | undefined {
  if (payload === 'catalog' || payload === 'keys') return { kind: payload };
  if (payload.startsWith('client:')) return { kind: 'client', clientId: payload.slice('client:'.length) };
  return undefined;
}
