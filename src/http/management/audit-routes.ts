import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../../audit/audit-log.js';
import { AuditEvent, errors, IdParam, PageOf, PageQuery } from '../../wire/management.js';
import type { TypedApp } from './index.js';

/** An organization's audit log: admins, and tokens with audit:read. */
export async function auditRoutes(app: TypedApp, { audit }: { audit: AuditLog }): Promise<void> {
  app.get(
    '/organizations/:org/audit-events',
    {
      config: { access: { org: 'admin', permission: 'audit:read' } },
      schema: {
        operationId: 'listAuditEvents',
        summary: "The organization's audit events, newest first",
        tags: ['audit'],
        params: Type.Object({ org: IdParam }),
        querystring: PageQuery,
        response: { 200: PageOf(AuditEvent), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => audit.list(request.params.org, { limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );
}
