import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MembershipService } from '../../orgs/membership-service.js';
import { SESSION_TTL_SECONDS, type SessionService } from '../../orgs/session-service.js';
import type { UserService } from '../../orgs/user-service.js';
import { errors, InviteBody, InviteLookup, InviteLookupBody, Me, NoContent, SessionAnswer, SessionBody, SetupBody, SetupStatus, User as UserSchema, type User } from '../../wire/management.js';
import { SESSION_COOKIE, SIGNED_IN_COOKIE, userOf } from './access.js';
import type { TypedApp } from './index.js';

export interface SessionRouteDeps {
  sessions: SessionService;
  users: UserService;
  memberships: MembershipService;
  /** Cookies only over HTTPS when the issuer is served over HTTPS. */
  secureCookie: boolean;
}

/** Sign-in and sign-out, `GET /me`, the first-run setup and invitation acceptance. */
export async function sessionRoutes(app: TypedApp, { sessions, users, memberships, secureCookie }: SessionRouteDeps): Promise<void> {
  const me = async (user: User) => ({
    id: user.id,
    email: user.email,
    name: user.name,
    platform_admin: user.platform_admin,
    organizations: await memberships.organizationsOf(user.id),
  });
  const setCookie = (reply: FastifyReply, value: string, maxAge: number) => {
    reply.setCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: secureCookie, path: '/', maxAge });
    // Readable by the page, and no credential: it only tells the web app that asking GET /session is worth it,
    // so a visitor who never signed in sees no 401 in the browser console.
    reply.setCookie(SIGNED_IN_COOKIE, value ? '1' : '', { httpOnly: false, sameSite: 'lax', secure: secureCookie, path: '/', maxAge });
  };
  /**
   * The user signed in on a public route, if any. Only with the session's CSRF token: a request
   * another site made the browser send proves nothing about who is accepting.
   */
  const signedInUserId = async (request: FastifyRequest): Promise<string | undefined> => {
    const cookie = request.cookies[SESSION_COOKIE];
    const session = cookie ? await sessions.lookup(cookie) : undefined;
    return session && request.headers['x-csrf-token'] === session.csrfToken ? session.user.id : undefined;
  };
  const anyone = { access: { public: true } } as const;
  const signedIn = { access: { user: true } } as const;

  app.post(
    '/session',
    { config: anyone, schema: { operationId: 'createSession', summary: 'Sign in', tags: ['session'], body: SessionBody, response: { 200: SessionAnswer, ...errors(400, 401, 429) } } },
    async (request, reply) => {
      const { cookie, session } = await sessions.login(request.body.email, request.body.password, request.ip);
      setCookie(reply, cookie, SESSION_TTL_SECONDS);
      return { user: await me(session.user), csrf_token: session.csrfToken };
    },
  );

  app.get(
    '/session',
    { config: signedIn, schema: { operationId: 'getSession', summary: 'The current session', tags: ['session'], response: { 200: SessionAnswer, ...errors(401, 403) } } },
    async (request) => {
      const principal = userOf(request);
      return { user: await me(principal.user), csrf_token: principal.csrfToken };
    },
  );

  app.delete(
    '/session',
    { config: signedIn, schema: { operationId: 'deleteSession', summary: 'Sign out', tags: ['session'], response: { 204: NoContent, ...errors(401, 403) } } },
    async (request, reply) => {
      await sessions.logout(userOf(request).cookie);
      setCookie(reply, '', 0);
      return reply.code(204).send();
    },
  );

  app.get(
    '/me',
    { config: signedIn, schema: { operationId: 'getMe', summary: 'The signed-in user and their organizations', tags: ['session'], response: { 200: Me, ...errors(401, 403) } } },
    async (request) => me(userOf(request).user),
  );

  app.get(
    '/setup',
    {
      config: anyone,
      schema: { operationId: 'getSetupStatus', summary: 'Whether the instance waits for its first administrator (no user exists yet)', tags: ['session'], response: { 200: SetupStatus } },
    },
    async (_request, reply) => reply.header('cache-control', 'no-store').send({ setup_required: await users.setupRequired() }),
  );

  app.post(
    '/setup',
    {
      config: anyone,
      schema: {
        operationId: 'completeSetup',
        summary: 'Create the first platform administrator from the one-time setup link',
        tags: ['session'],
        body: SetupBody,
        response: { 201: UserSchema, ...errors(400, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await users.completeSetup(request.body.token, request.body)),
  );

  app.post(
    '/invites/lookup',
    {
      config: anyone,
      schema: {
        operationId: 'lookUpInvite',
        summary: 'What an invitation link is for: the account, the organization, whether the account has a password',
        tags: ['session'],
        body: InviteLookupBody,
        response: { 200: InviteLookup, ...errors(400) },
      },
    },
    async (request) => users.inspectInvite(request.body.token),
  );

  app.post(
    '/invites/accept',
    {
      config: anyone,
      schema: {
        operationId: 'acceptInvite',
        summary: 'Accept an invitation: choose the password of a new account, or prove the account is yours (signed in as it, or its current_password)',
        tags: ['session'],
        body: InviteBody,
        response: { 200: UserSchema, ...errors(400, 409, 429) },
      },
    },
    async (request) => {
      const { token, ...input } = request.body;
      return users.acceptInvite(token, input, { signedInUserId: await signedInUserId(request), ip: request.ip });
    },
  );
}
