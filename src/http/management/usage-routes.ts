import { Type } from '@sinclair/typebox';
import type { ClientService } from '../../clients/client-service.js';
import type { PolicyService } from '../../usage/policy-service.js';
import type { UsageService } from '../../usage/usage-service.js';
import { errors, IdParam, OrganizationUsage, PolicyAnswer, PolicyInput, Usage, UsageQuery } from '../../wire/management.js';
import { actorOf } from './access.js';
import type { TypedApp } from './index.js';

const OrgParams = Type.Object({ org: IdParam });
const ClientParams = Type.Object({ org: IdParam, client_id: IdParam });

/** Whether the caller asked for CSV (RFC 9110 §12.5.1; a plain match is enough for the one alternative). */
function wantsCsv(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept);
}

/** Usage reports and organization policies (docs/http-api.md §3, docs/usage-and-quotas.md). */
export async function usageRoutes(app: TypedApp, deps: { clients: ClientService; usage: UsageService; policies: PolicyService }): Promise<void> {
  app.get(
    '/organizations/:org/clients/:client_id/usage',
    {
      config: { access: { org: 'member', permission: 'clients:read' } },
      schema: {
        operationId: 'getClientUsage',
        summary: "A client's tokens and failed token requests by hour or day",
        tags: ['usage'],
        params: ClientParams,
        querystring: UsageQuery,
        response: { 200: Usage, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await deps.clients.get(request.params.org, request.params.client_id);
      return deps.usage.ofClient(request.params.org, request.params.client_id, request.query);
    },
  );

  app.get(
    '/organizations/:org/usage',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'getOrganizationUsage',
        summary: "The organization's usage, by bucket and by client; Accept: text/csv for chargeback",
        tags: ['usage'],
        params: OrgParams,
        querystring: UsageQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: OrganizationUsage },
              'text/csv': { schema: Type.String({ description: 'One line per bucket and client: start, granularity, client_id, name, tokens, failed, redundant_tokens' }) },
            },
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      if (wantsCsv(request.headers.accept)) {
        const csv = await deps.usage.csvOfOrganization(request.params.org, request.query);
        return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="usage-${request.params.org}.csv"`).send(csv);
      }
      return deps.usage.ofOrganization(request.params.org, request.query);
    },
  );

  app.get(
    '/organizations/:org/policy',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'getOrganizationPolicy',
        summary: "The organization's policy and the clients it does not fit",
        tags: ['usage'],
        params: OrgParams,
        response: { 200: PolicyAnswer, ...errors(401, 403, 404) },
      },
    },
    async (request) => deps.policies.get(request.params.org),
  );

  app.put(
    '/organizations/:org/policy',
    {
      config: { access: { org: 'admin', platformAdmin: true } },
      schema: {
        operationId: 'putOrganizationPolicy',
        summary: "Replace the organization's policy (platform administrators)",
        tags: ['usage'],
        params: OrgParams,
        body: PolicyInput,
        response: { 200: PolicyAnswer, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => deps.policies.put(request.params.org, request.body, actorOf(request)),
  );
}
