import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { TypedApp } from './index.js';
import { actorOf, requireOrg, requirePlatformAdmin, requireUser } from './principal.js';
import { errors, IdParam, Member, MemberPatch, MemberWithInvite, NewMember, Organization, OrganizationInput, PageOf, PageQuery, NoContent } from './schemas.js';

const OrgParams = Type.Object({ org: IdParam });
const MemberParams = Type.Object({ org: IdParam, user: IdParam });

/** Organizations and their members. */
export async function organizationRoutes(app: TypedApp, runtime: Runtime): Promise<void> {
  app.get(
    '/organizations',
    { schema: { summary: "Organizations: all of them for a platform admin, one's own otherwise", tags: ['organizations'], querystring: PageQuery, response: { 200: PageOf(Organization), ...errors(400, 401, 403) } } },
    async (request) => {
      const { user } = requireUser(request.principal);
      const page = { limit: request.query.limit ?? 50, cursor: request.query.cursor };
      return runtime.organizations.list(page, user.platform_admin ? {} : { memberId: user.id });
    },
  );

  app.post(
    '/organizations',
    { schema: { summary: 'Create an organization', tags: ['organizations'], body: OrganizationInput, response: { 201: Organization, ...errors(400, 401, 403) } } },
    async (request, reply) => {
      requirePlatformAdmin(request.principal);
      return reply.code(201).send(await runtime.organizations.create(request.body, actorOf(request.principal, request)));
    },
  );

  app.get('/organizations/:org', { schema: { tags: ['organizations'], params: OrgParams, response: { 200: Organization, ...errors(401, 403, 404) } } }, async (request) => {
    await requireOrg(runtime, request.principal, request.params.org, 'member');
    return runtime.organizations.get(request.params.org);
  });

  app.patch(
    '/organizations/:org',
    { schema: { tags: ['organizations'], params: OrgParams, body: OrganizationInput, response: { 200: Organization, ...errors(400, 401, 403, 404) } } },
    async (request) => {
      await requireOrg(runtime, request.principal, request.params.org, 'member');
      requirePlatformAdmin(request.principal);
      return runtime.organizations.rename(request.params.org, request.body.name, actorOf(request.principal, request));
    },
  );

  app.delete(
    '/organizations/:org',
    { schema: { summary: 'Delete an organization with its members and clients', tags: ['organizations'], params: OrgParams, response: { 204: NoContent, ...errors(401, 403, 404) } } },
    async (request, reply) => {
      await requireOrg(runtime, request.principal, request.params.org, 'member');
      requirePlatformAdmin(request.principal);
      await runtime.organizations.delete(request.params.org, actorOf(request.principal, request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/organizations/:org/members',
    { schema: { tags: ['members'], params: OrgParams, querystring: PageQuery, response: { 200: PageOf(Member), ...errors(400, 401, 403, 404) } } },
    async (request) => {
      await requireOrg(runtime, request.principal, request.params.org, 'admin');
      // Organizations have tens of members: one page holds them all.
      return { data: await runtime.memberships.list(request.params.org), next_cursor: null };
    },
  );

  app.post(
    '/organizations/:org/members',
    {
      schema: {
        summary: 'Add a member by email; an email without an account gets an invitation link in the answer',
        tags: ['members'],
        params: OrgParams,
        body: NewMember,
        response: { 201: MemberWithInvite, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await requireOrg(runtime, request.principal, request.params.org, 'admin');
      const { member, invite_url } = await runtime.memberships.add(request.params.org, request.body, actorOf(request.principal, request));
      return reply.code(201).send(invite_url ? { ...member, invite_url } : member);
    },
  );

  app.patch(
    '/organizations/:org/members/:user',
    { schema: { tags: ['members'], params: MemberParams, body: MemberPatch, response: { 200: Member, ...errors(400, 401, 403, 404, 409) } } },
    async (request) => {
      await requireOrg(runtime, request.principal, request.params.org, 'admin');
      return runtime.memberships.setRole(request.params.org, request.params.user, request.body.role, actorOf(request.principal, request));
    },
  );

  app.delete(
    '/organizations/:org/members/:user',
    { schema: { tags: ['members'], params: MemberParams, response: { 204: NoContent, ...errors(401, 403, 404, 409) } } },
    async (request, reply) => {
      await requireOrg(runtime, request.principal, request.params.org, 'admin');
      await runtime.memberships.remove(request.params.org, request.params.user, actorOf(request.principal, request));
      return reply.code(204).send();
    },
  );
}
