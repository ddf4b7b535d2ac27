import type { FastifyInstance, InjectOptions } from 'fastify';
import { expect } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { managementAudience } from '../../src/catalog/management-api.js';
import type { Runtime } from '../../src/runtime.js';
import { TEST_ISSUER, basic, form } from './portcullis.js';

export const PASSWORD = 'correct horse battery staple';

/** How a test calls the management API as someone. */
export interface Caller {
  label: string;
  headers(method: string): Record<string, string>;
}

export const anonymous: Caller = { label: 'no credentials', headers: () => ({}) };

export async function signIn(app: FastifyInstance, email: string, password = PASSWORD): Promise<Caller & { csrf: string; cookie: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password } });
  expect(res.statusCode, res.body).toBe(200);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = /portcullis_session=([^;]+)/.exec(setCookie)?.[1];
  if (!cookie) throw new Error(`no session cookie in ${setCookie}`);
  const csrf = (res.json() as { csrf_token: string }).csrf_token;
  return {
    label: email,
    cookie,
    csrf,
    headers: (method) => ({ cookie: `portcullis_session=${cookie}`, ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }) }),
  };
}

/** A user with PASSWORD; with `orgId`, an active member of that organization (invited, and the invitation accepted). */
export async function createUser(runtime: Runtime, email: string, opts: { platformAdmin?: boolean; orgId?: string; role?: 'admin' | 'member' } = {}) {
  const { user } = await runtime.users.create({ email, password: PASSWORD, name: email.split('@')[0], platform_admin: opts.platformAdmin ?? false }, SYSTEM_ACTOR);
  if (opts.orgId) await joinOrganization(runtime, opts.orgId, email, opts.role ?? 'member');
  return user;
}

/** The one-time token of an invite link. */
export function tokenOf(inviteUrl: string | undefined): string {
  const token = inviteUrl ? new URL(inviteUrl).searchParams.get('token') : null;
  if (!token) throw new Error(`no token in ${String(inviteUrl)}`);
  return token;
}

/** Invites an existing account with PASSWORD to the organization (without SMTP_URL) and accepts with that password. */
export async function joinOrganization(runtime: Runtime, orgId: string, email: string, role: 'admin' | 'member') {
  const added = await runtime.memberships.add(orgId, { email, role }, SYSTEM_ACTOR);
  if (!('invite_url' in added)) throw new Error('joinOrganization needs a server without SMTP_URL');
  return runtime.users.acceptInvite(tokenOf(added.invite_url), { current_password: PASSWORD }, { signedInUserId: undefined, ip: '127.0.0.1' });
}

/** A client of `orgId` holding the built-in client-manager role, and a bearer caller for its token narrowed to `scope`. */
export async function managementClient(app: FastifyInstance, runtime: Runtime, orgId: string) {
  const { client, client_secret } = await runtime.clients.create(orgId, { name: 'automation', roles: ['client-manager'] }, SYSTEM_ACTOR);
  const tokenFor = async (scope?: string): Promise<Caller> => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { authorization: basic(client.client_id, client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ grant_type: 'client_credentials', audience: managementAudience(TEST_ISSUER), ...(scope ? { scope } : {}) }),
    });
    expect(res.statusCode, res.body).toBe(200);
    const token = (res.json() as { access_token: string }).access_token;
    return { label: `token[${scope ?? 'all'}]`, headers: () => ({ authorization: `Bearer ${token}` }) };
  };
  return { clientId: client.client_id, secret: client_secret, tokenFor };
}

export function call(app: FastifyInstance, who: Caller, method: InjectOptions['method'], url: string, payload?: unknown) {
  return app.inject({ method, url: `/api/v1${url}`, headers: who.headers(String(method)), ...(payload !== undefined ? { payload: payload as object } : {}) });
}
