import type { Actor } from '../../audit/actor.js';
import { InvalidCursorError } from '../../errors/domain-errors.js';
import type { AuditEvent } from '../../wire/management.js';
import type { Executor } from '../executor.js';
import type { Page, PageRequest } from '../pagination.js';

export interface AuditEntry {
  action: string;
  target: { type: string; id: string };
  /** Non-secret fields, e.g. `{ name: { from, to } }`. Never a secret or its hash. */
  details?: Record<string, unknown>;
}

/** Audit events. An organization's trail is its own; platform changes are recorded with no organization (`null`). */
export class AuditRepository {
  constructor(private readonly db: Executor) {}

  /** Written inside the caller's transaction, so the change and its record land together. */
  async record(orgId: string | null, actor: Actor, entry: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        org_id: orgId,
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

  /** Newest first; the cursor is the last event's id (audit_events_org_idx). */
  async list(orgId: string, page: PageRequest): Promise<Page<AuditEvent>> {
    if (page.cursor !== undefined && !/^[0-9]{1,18}$/.test(page.cursor)) throw new InvalidCursorError();
    let query = this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('id', 'desc')
      .limit(page.limit + 1);
    if (page.cursor !== undefined) query = query.where('id', '<', page.cursor);
    const rows = await query.execute();
    const data = rows.slice(0, page.limit).map((r) => ({
      id: String(r.id),
      at: r.at,
      actor: { type: r.actor_type, id: r.actor_id },
      action: r.action,
      target: { type: r.target_type, id: r.target_id },
      ip: r.ip,
      details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
    }));
    return { data, next_cursor: rows.length > page.limit ? (data[data.length - 1]?.id ?? null) : null };
  }
}
