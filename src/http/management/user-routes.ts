import { Type } from '@sinclair/typebox';
import type { UserService } from '../../orgs/user-service.js';
import { errors, IdParam, NewUser, NoContent, PageOf, PageQuery, User, UserPatch, UserWithInvite } from '../../wire/management.js';
import { actorOf } from './access.js';
import type { TypedApp } from './index.js';

const UserParams = Type.Object({ user: IdParam });
const platformAdmin = { access: { platformAdmin: true } } as const;

/** Users, managed by platform administrators. */
export async function userRoutes(app: TypedApp, { users }: { users: UserService }): Promise<void> {
  app.get(
    '/users',
    {
      config: platformAdmin,
      schema: { operationId: 'listUsers', summary: 'Every user of the platform', tags: ['users'], querystring: PageQuery, response: { 200: PageOf(User), ...errors(400, 401, 403) } },
    },
    async (request) => users.list({ limit: request.query.limit ?? 50, cursor: request.query.cursor }),
  );

  app.post(
    '/users',
    {
      config: platformAdmin,
      schema: {
        operationId: 'createUser',
        summary: 'Create a user; without a password a one-time link to choose one is mailed (SMTP_URL) or, without SMTP_URL, in the answer',
        tags: ['users'],
        body: NewUser,
        response: { 201: UserWithInvite, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { user, ...delivery } = await users.create(request.body, actorOf(request));
      return reply.code(201).send({ ...user, ...delivery });
    },
  );

  app.get(
    '/users/:user',
    { config: platformAdmin, schema: { operationId: 'getUser', summary: 'One user', tags: ['users'], params: UserParams, response: { 200: User, ...errors(401, 403, 404) } } },
    async (request) => users.get(request.params.user),
  );

  app.patch(
    '/users/:user',
    {
      config: platformAdmin,
      schema: {
        operationId: 'updateUser',
        summary: 'Change a user: email, name, password, platform administrator',
        tags: ['users'],
        params: UserParams,
        body: UserPatch,
        response: { 200: User, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => users.update(request.params.user, request.body, actorOf(request)),
  );

  app.delete(
    '/users/:user',
    {
      config: platformAdmin,
      schema: { operationId: 'deleteUser', summary: 'Delete a user and their memberships', tags: ['users'], params: UserParams, response: { 204: NoContent, ...errors(401, 403, 404) } },
    },
    async (request, reply) => {
      await users.delete(request.params.user, actorOf(request));
      return reply.code(204).send();
    },
  );
}
