import type { Page, PageRequest } from '../store/pagination.js';
import type { Repositories } from '../store/repositories/index.js';
import type { AuditEvent } from '../wire/management.js';

/** An organization's audit trail, as its admins read it. Events are written by each change's own transaction. */
export class AuditLog {
  constructor(private readonly read: Repositories) {}

  list(orgId: string, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.read.audit.list(orgId, page);
  }
}
