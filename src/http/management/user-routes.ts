import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { TypedApp } from './index.js';
import { actorOf, requirePlatformAdmin } from './principal.js';
import { errors, IdParam, NewUser, PageOf, PageQuery, User, UserPatch, UserWithInvite, NoContent } from './schemas.js';

const UserParams = Type.Object({ user: IdParam });

/** Users, managed by platform administrators. */
export async function userRoutes(app: TypedApp, runtime: Runtime): Promise<void> {
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.url?.startsWith('/api/v1/users')) requirePlatformAdmin(request.principal);
  });

  app.get('/users', { schema: { tags: ['users'], querystring: PageQuery, response: { 200: PageOf(User), ...errors(400, 401, 403) } } }, async (request) =>
    runtime.users.list({ limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );

  app.post(
    '/users',
    { schema: { summary: 'Create a user; without a password the answer carries a one-time invite_url', tags: ['users'], body: NewUser, response: { 201: UserWithInvite, ...errors(400, 401, 403, 409) } } },
    async (request, reply) => {
      const { user, invite_url } = await runtime.users.create(request.body, actorOf(request.principal, request));
      return reply.code(201).send(invite_url ? { ...user, invite_url } : user);
    },
  );

  app.get('/users/:user', { schema: { tags: ['users'], params: UserParams, response: { 200: User, ...errors(401, 403, 404) } } }, async (request) =>
    runtime.users.get(request.params.user),
  );

  app.patch('/users/:user', { schema: { tags: ['users'], params: UserParams, body: UserPatch, response: { 200: User, ...errors(400, 401, 403, 404, 409) } } }, async (request) =>
    runtime.users.update(request.params.user, request.body, actorOf(request.principal, request)),
  );

  app.delete('/users/:user', { schema: { tags: ['users'], params: UserParams, response: { 204: NoContent, ...errors(401, 403, 404) } } }, async (request, reply) => {
    await runtime.users.delete(request.params.user, actorOf(request.principal, request));
    return reply.code(204).send();
  });
}
