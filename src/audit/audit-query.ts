import type { Kysely } from 'kysely';
import { InvalidRequest } from '../errors/api-error.js';
import type { Database } from '../store/schema.js';
import type { Page, PageRequest } from '../store/pagination.js';

export interface AuditEvent {
  id: string;
  at: Date;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string };
  ip: string | null;
  details: Record<string, unknown>;
}

/** An organization's audit events, newest first; the cursor is the last event's id. */
export async function listAuditEvents(db: Kysely<Database>, orgId: string, page: PageRequest): Promise<Page<AuditEvent>> {
  if (page.cursor !== undefined && !/^[0-9]{1,19}$/.test(page.cursor)) {
    throw new InvalidRequest('Invalid cursor.', [{ field: '/querystring/cursor', message: 'not a cursor from a previous page' }]);
  }
  let query = db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId).orderBy('id', 'desc').limit(page.limit + 1);
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
