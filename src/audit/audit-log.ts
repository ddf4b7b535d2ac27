import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Actor } from './actor.js';

export interface AuditEntry {
  orgId: string | null;
  action: string;
  target: { type: string; id: string };
  /** Non-secret fields, e.g. `{ name: { from, to } }`. Never a secret or its hash. */
  details?: Record<string, unknown>;
}

/** Writes an audit event inside the caller's transaction, so the change and its record land together. */
export async function recordAudit(trx: Transaction<Database> | Kysely<Database>, actor: Actor, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('audit_events')
    .values({
      org_id: entry.orgId,
      actor_type: actor.type,
      actor_id: actor.id,
      action: entry.action,
      target_type: entry.target.type,
      target_id: entry.target.id,
      ip: actor.ip ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}
