import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../audit/actor.js';
import { managementAudience, type ManagementPermission } from '../../catalog/management-api.js';
import { Forbidden, NotFound, Unauthenticated } from '../../errors/api-error.js';
import type { MemberRole } from '../../orgs/membership-service.js';
import type { User } from '../../orgs/user-service.js';
import type { Runtime } from '../../runtime.js';

export const SESSION_COOKIE = 'portcullis_session';

/** Who is calling the management API. */
export type Principal =
  | { kind: 'user'; user: User; csrfToken: string; cookie: string }
  | { kind: 'client'; clientId: string; orgId: string; permissions: ReadonlySet<string> };

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Authenticates a management request: a bearer access token this server issued for the
 * management API (signature, issuer, audience, expiry, and a client that still exists
 * in the organization the token names), or a session cookie, whose unsafe requests must
 * carry the session's CSRF token in `x-csrf-token`.
 */
export async function authenticate(runtime: Runtime, request: FastifyRequest): Promise<Principal> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization);
    if (!match?.[1]) throw new Unauthenticated('Send Authorization: Bearer <access token>.');
    return bearerPrincipal(runtime, match[1]);
  }
  const cookie = request.cookies[SESSION_COOKIE];
  if (!cookie) throw new Unauthenticated();
  const session = await runtime.sessions.lookup(cookie);
  if (!session) throw new Unauthenticated('Your session has ended; sign in again.');
  if (UNSAFE.has(request.method) && request.headers['x-csrf-token'] !== session.csrfToken) {
    throw new Forbidden('Missing or wrong x-csrf-token header.');
  }
  return { kind: 'user', user: session.user, csrfToken: session.csrfToken, cookie };
}

async function bearerPrincipal(runtime: Runtime, token: string): Promise<Principal> {
  const claims = await runtime.accessTokens.verify(token, { audience: managementAudience(runtime.config.issuer) });
  // A deleted client's tokens stop working at once (API.md §3), and so do revoked ones (RFC 7009).
  const grant = claims ? await runtime.grants.get(claims.client_id) : undefined;
  if (!claims || !grant || grant.orgId !== claims.org_id || (await runtime.accessTokens.isRevoked(claims.jti))) {
    throw new Unauthenticated('The access token is invalid, expired or revoked.');
  }
  return { kind: 'client', clientId: claims.client_id, orgId: claims.org_id, permissions: new Set(claims.scope.split(' ')) };
}

export function actorOf(principal: Principal, request: FastifyRequest): Actor {
  return principal.kind === 'user' ? { type: 'user', id: principal.user.id, ip: request.ip } : { type: 'client', id: principal.clientId, ip: request.ip };
}

export type OrgAccess = 'admin' | 'member';

/**
 * What the caller may do in an organization. An organization the caller has no part in
 * answers 404, never 403 (API.md §3). A client reaches only its own organization, and
 * only with the permission `clientNeeds`; without it (or where clients have no business) 403.
 */
export async function requireOrg(
  runtime: Runtime,
  principal: Principal,
  orgId: string,
  userNeeds: OrgAccess,
  clientNeeds?: ManagementPermission,
): Promise<void> {
  if (principal.kind === 'client') {
    if (principal.orgId !== orgId) throw new NotFound('Organization');
    if (!clientNeeds) throw new Forbidden('A client token cannot do this; sign in as a user.');
    if (!principal.permissions.has(clientNeeds)) throw new Forbidden(`The token lacks the ${clientNeeds} permission.`);
    return;
  }
  if (principal.user.platform_admin) {
    await runtime.organizations.get(orgId);
    return;
  }
  const role: MemberRole | undefined = await runtime.memberships.roleOf(orgId, principal.user.id);
  if (!role) throw new NotFound('Organization');
  if (userNeeds === 'admin' && role !== 'admin') throw new Forbidden('Only an organization admin may do this.');
}

export function requirePlatformAdmin(principal: Principal): void {
  if (principal.kind !== 'user' || !principal.user.platform_admin) throw new Forbidden('Only a platform administrator may do this.');
}

/** Any signed-in user; a client only with `clientNeeds`. */
export function requireUserOr(principal: Principal, clientNeeds?: ManagementPermission): void {
  if (principal.kind === 'user') return;
  if (!clientNeeds || !principal.permissions.has(clientNeeds)) throw new Forbidden(clientNeeds ? `The token lacks the ${clientNeeds} permission.` : 'Sign in as a user.');
}

export function requireUser(principal: Principal): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user') throw new Forbidden('Sign in as a user.');
  return principal;
}
