import { Type } from '@sinclair/typebox';
import { InvalidCursorError } from '../../errors/domain-errors.js';
import type { MembershipService } from '../../orgs/membership-service.js';
import type { OrganizationService } from '../../orgs/organization-service.js';
import { errors, IdParam, Member, MemberPatch, MemberWithInvite, NewMember, NoContent, Organization, OrganizationInput, PageOf, PageQuery } from '../../wire/management.js';
import { actorOf, userOf } from './access.js';
import type { TypedApp } from './index.js';

const OrgParams = Type.Object({ org: IdParam });
const MemberParams = Type.Object({ org: IdParam, user: IdParam });

/** Organizations and their members. */
export async function organizationRoutes(app: TypedApp, { organizations, memberships }: { organizations: OrganizationService; memberships: MembershipService }): Promise<void> {
  app.get(
    '/organizations',
    {
      config: { access: { user: true } },
      schema: {
        operationId: 'listOrganizations',
        summary: "Organizations: all of them for a platform admin, one's own otherwise",
        tags: ['organizations'],
        querystring: PageQuery,
        response: { 200: PageOf(Organization), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { user } = userOf(request);
      return organizations.list({ limit: request.query.limit ?? 50, cursor: request.query.cursor }, user.platform_admin ? {} : { memberId: user.id });
    },
  );

  app.post(
    '/organizations',
    {
      config: { access: { platformAdmin: true } },
      schema: { operationId: 'createOrganization', summary: 'Create an organization', tags: ['organizations'], body: OrganizationInput, response: { 201: Organization, ...errors(400, 401, 403) } },
    },
    async (request, reply) => reply.code(201).send(await organizations.create(request.body, actorOf(request))),
  );

  app.get(
    '/organizations/:org',
    {
      config: { access: { org: 'member' } },
      schema: { operationId: 'getOrganization', summary: 'One organization', tags: ['organizations'], params: OrgParams, response: { 200: Organization, ...errors(401, 403, 404) } },
    },
    async (request) => organizations.get(request.params.org),
  );

  app.patch(
    '/organizations/:org',
    {
      config: { access: { org: 'member', platformAdmin: true } },
      schema: {
        operationId: 'updateOrganization',
        summary: 'Rename an organization',
        tags: ['organizations'],
        params: OrgParams,
        body: OrganizationInput,
        response: { 200: Organization, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => organizations.rename(request.params.org, request.body.name, actorOf(request)),
  );

  app.delete(
    '/organizations/:org',
    {
      config: { access: { org: 'member', platformAdmin: true } },
      schema: {
        operationId: 'deleteOrganization',
        summary: 'Delete an organization with its members and clients',
        tags: ['organizations'],
        params: OrgParams,
        response: { 204: NoContent, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await organizations.delete(request.params.org, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/organizations/:org/members',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'listMembers',
        summary: "The organization's members and invitations",
        tags: ['members'],
        params: OrgParams,
        querystring: PageQuery,
        response: { 200: PageOf(Member), ...errors(400, 401, 403, 404) },
      },
    },
    // Organizations have tens of members: one page holds them all, and no cursor leads further.
    async (request) => {
      if (request.query.cursor !== undefined) throw new InvalidCursorError();
      return { data: await memberships.list(request.params.org), next_cursor: null };
    },
  );

  app.post(
    '/organizations/:org/members',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'addMember',
        summary: 'Invite an email; the invitation link is mailed (SMTP_URL) or, without SMTP_URL, in the answer',
        tags: ['members'],
        params: OrgParams,
        body: NewMember,
        response: { 201: MemberWithInvite, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { member, ...delivery } = await memberships.add(request.params.org, request.body, actorOf(request));
      return reply.code(201).send({ ...member, ...delivery });
    },
  );

  app.patch(
    '/organizations/:org/members/:user',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'updateMember',
        summary: "Change a member's role",
        tags: ['members'],
        params: MemberParams,
        body: MemberPatch,
        response: { 200: Member, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => memberships.setRole(request.params.org, request.params.user, request.body.role, actorOf(request)),
  );

  app.delete(
    '/organizations/:org/members/:user',
    {
      config: { access: { org: 'admin' } },
      schema: {
        operationId: 'removeMember',
        summary: 'Remove a member or withdraw an invitation',
        tags: ['members'],
        params: MemberParams,
        response: { 204: NoContent, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await memberships.remove(request.params.org, request.params.user, actorOf(request));
      return reply.code(204).send();
    },
  );
}
