import type { FastifyReply } from 'fastify';
import { SESSION_TTL_SECONDS } from '../../orgs/session-service.js';
import type { User } from '../../orgs/user-service.js';
import type { Runtime } from '../../runtime.js';
import type { TypedApp } from './index.js';
import { requireUser, SESSION_COOKIE } from './principal.js';
import { errors, InviteBody, Me, SessionAnswer, SessionBody, SetupBody, User as UserSchema, NoContent } from './schemas.js';

/** Sign-in and sign-out, `GET /me`, the first-run setup and invitation acceptance. */
export async function sessionRoutes(app: TypedApp, runtime: Runtime): Promise<void> {
  const secureCookie = runtime.config.issuer.startsWith('https://');
  const me = async (user: User) => ({
    id: user.id,
    email: user.email,
    name: user.name,
    platform_admin: user.platform_admin,
    organizations: await runtime.memberships.organizationsOf(user.id),
  });
  const setCookie = (reply: FastifyReply, value: string, maxAge: number) =>
    reply.setCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: secureCookie, path: '/', maxAge });

  app.post(
    '/session',
    { config: { public: true }, schema: { summary: 'Sign in', tags: ['session'], body: SessionBody, response: { 200: SessionAnswer, ...errors(400, 401, 429) } } },
    async (request, reply) => {
      const { cookie, session } = await runtime.sessions.login(request.body.email, request.body.password, request.ip);
      setCookie(reply, cookie, SESSION_TTL_SECONDS);
      return { user: await me(session.user), csrf_token: session.csrfToken };
    },
  );

  app.get('/session', { schema: { summary: 'The current session', tags: ['session'], response: { 200: SessionAnswer, ...errors(401, 403) } } }, async (request) => {
    const principal = requireUser(request.principal);
    return { user: await me(principal.user), csrf_token: principal.csrfToken };
  });

  app.delete('/session', { schema: { summary: 'Sign out', tags: ['session'], response: { 204: NoContent, ...errors(401, 403) } } }, async (request, reply) => {
    const principal = requireUser(request.principal);
    await runtime.sessions.logout(principal.cookie);
    setCookie(reply, '', 0);
    return reply.code(204).send();
  });

  app.get('/me', { schema: { summary: 'The signed-in user and their organizations', tags: ['session'], response: { 200: Me, ...errors(401, 403) } } }, async (request) =>
    me(requireUser(request.principal).user),
  );

  app.post(
    '/setup',
    {
      config: { public: true },
      schema: { summary: 'Create the first platform administrator from the one-time setup link', tags: ['session'], body: SetupBody, response: { 201: UserSchema, ...errors(400, 409) } },
    },
    async (request, reply) => reply.code(201).send(await runtime.users.completeSetup(request.body.token, request.body)),
  );

  app.post(
    '/invites/accept',
    {
      config: { public: true },
      schema: { summary: 'Set the password of an invited user from their one-time link', tags: ['session'], body: InviteBody, response: { 200: UserSchema, ...errors(400) } },
    },
    async (request) => runtime.users.acceptInvite(request.body.token, request.body),
  );
}
