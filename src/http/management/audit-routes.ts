import { Type } from '@sinclair/typebox';
import { listAuditEvents } from '../../audit/audit-query.js';
import type { Runtime } from '../../runtime.js';
import type { TypedApp } from './index.js';
import { requireOrg } from './principal.js';
import { AuditEvent, errors, IdParam, PageOf, PageQuery } from './schemas.js';

/** An organization's audit log: admins, and tokens with audit:read. */
export async function auditRoutes(app: TypedApp, runtime: Runtime): Promise<void> {
  app.get(
    '/organizations/:org/audit-events',
    { schema: { tags: ['audit'], params: Type.Object({ org: IdParam }), querystring: PageQuery, response: { 200: PageOf(AuditEvent), ...errors(400, 401, 403, 404) } } },
    async (request) => {
      await requireOrg(runtime, request.principal, request.params.org, 'admin', 'audit:read');
      return listAuditEvents(runtime.store.db, request.params.org, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
    },
  );
}
