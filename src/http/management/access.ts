import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../../audit/actor.js';
import { managementAudience, type ManagementPermission } from '../../catalog/management-api.js';
import type { ClientSnapshotCache } from '../../clients/client-snapshots.js';
import { BearerError, bearerErrorResponse, bearerToken, InvalidTokenError, MissingTokenError } from '@portcullis/resource';
import { Forbidden, Unauthenticated } from '../../errors/api-error.js';
import { NotFoundError } from '../../errors/domain-errors.js';
import type { MembershipService } from '../../orgs/membership-service.js';
import type { OrganizationService } from '../../orgs/organization-service.js';
import type { SessionService } from '../../orgs/session-service.js';
import type { AccessTokenVerifier } from '../../tokens/access-token-verifier.js';
import type { User } from '../../wire/management.js';

export const SESSION_COOKIE = 'portcullis_session';
/** Set and cleared with the session cookie, but readable by the page: a hint that a session may exist, never proof of one. */
export const SIGNED_IN_COOKIE = 'portcullis_signed_in';
/** The realm of the management API's `WWW-Authenticate: Bearer` challenges. */
const BEARER_REALM = 'portcullis';

/**
 * Who may call a management route, declared with the route (`config: { access }`) and
 * checked by one hook before the route's schema validates anything, so an anonymous
 * caller learns nothing about what a valid request looks like.
 *
 * - `public`: anyone (sign-in, first-run setup, invitations).
 * - `user`: any signed-in user; client tokens never.
 * - `signedIn`: any signed-in user, or a client token holding `permission`.
 * - `platformAdmin`: platform administrators only.
 * - `org`: the organization in the route's `:org` parameter. Users by their membership
 *   (`member` or `admin`; platform administrators everywhere); a client token only in its
 *   own organization and only with `permission` (without one, clients may not). An
 *   organization the caller has no part in answers 404, never 403. With `platformAdmin`,
 *   the caller must also be a platform administrator.
 */
export type Access =
  | { public: true }
  | { user: true }
  | { signedIn: true; permission: ManagementPermission }
  | { platformAdmin: true }
  | { org: 'member' | 'admin'; permission?: ManagementPermission; platformAdmin?: true };

/** Who is calling the management API. */
export type Principal = { kind: 'user'; user: User; csrfToken: string; cookie: string } | { kind: 'client'; clientId: string; orgId: string; permissions: ReadonlySet<string> };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every management route that is not `public`. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface AccessDeps {
  issuer: string;
  sessions: SessionService;
  memberships: MembershipService;
  organizations: OrganizationService;
  accessTokens: AccessTokenVerifier;
  clientSnapshots: ClientSnapshotCache;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Installs the access check on every route of `app`, and refuses to register a route that
 * declares no access: a forgotten check is a start-up error, not an open route.
 */
export function installAccess(app: FastifyInstance, deps: AccessDeps): void {
  app.decorateRequest('principal', null as never);
  app.addHook('onRoute', (route) => {
    if (!route.config?.access) throw new Error(`${String(route.method)} ${route.url} declares no access (config.access)`);
  });
  // Before validation: an anonymous caller learns nothing about what a valid request looks like.
  app.addHook('preValidation', async (request) => {
    if (UNSAFE.has(request.method)) refuseCrossSite(request, deps.issuer);
    const access = accessOf(request);
    if ('public' in access) return;
    request.principal = await authenticate(deps, request);
  });
  // After validation: the organization in the path is then known to be text the database can look up.
  app.addHook('preHandler', async (request) => {
    const access = accessOf(request);
    if ('public' in access) return;
    await authorize(deps, request.principal, access, (request.params as { org?: string } | undefined)?.org);
  });
}

function accessOf(request: FastifyRequest): Access {
  const access = request.routeOptions.config?.access;
  if (!access) throw new Forbidden(); // unreachable: onRoute refuses such routes
  return access;
}

/**
 * Login and other CSRF from another site (ASVS V4.2.2): an unsafe request whose `Origin` is
 * not this server's, or that the browser says comes from another site (`Sec-Fetch-Site`), is
 * refused whatever its credentials. Requests without either header (scripts, the CLI) pass:
 * they carry no ambient cookie a foreign page could have made them send.
 */
function refuseCrossSite(request: FastifyRequest, issuer: string): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new Forbidden('Cross-site requests are refused.');
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host === undefined || (origin !== new URL(issuer).origin && host !== request.headers.host)) throw new Forbidden('Requests from another origin are refused.');
}

/**
 * A bearer access token this server issued for the management API (signature, issuer,
 * audience, expiry, not revoked, and a client that still exists in the organization the
 * token names), or a session cookie, whose unsafe requests must carry the session's CSRF
 * token in `x-csrf-token`.
 */
async function authenticate(deps: AccessDeps, request: FastifyRequest): Promise<Principal> {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return bearerPrincipal(deps, bearerTokenOf(authorization));
  const cookie = request.cookies[SESSION_COOKIE];
  if (!cookie) throw unauthenticated(new MissingTokenError(), 'Sign in or send a bearer token.');
  const session = await deps.sessions.lookup(cookie);
  if (!session) throw unauthenticated(new MissingTokenError(), 'Your session has ended; sign in again.');
  if (UNSAFE.has(request.method) && request.headers['x-csrf-token'] !== session.csrfToken) throw new Forbidden('Missing or wrong x-csrf-token header.');
  return { kind: 'user', user: session.user, csrfToken: session.csrfToken, cookie };
}

async function bearerPrincipal(deps: AccessDeps, token: string): Promise<Principal> {
  const claims = await deps.accessTokens.verify(token, { audience: managementAudience(deps.issuer) });
  // A deleted client's tokens stop working at once, and so do revoked ones (RFC 7009).
  const client = claims ? await deps.clientSnapshots.get(claims.client_id) : undefined;
  if (!claims || !client || client.orgId !== claims.org_id || (await deps.accessTokens.isRevoked(claims.jti))) {
    throw unauthenticated(new InvalidTokenError('inactive', 'The access token is invalid, expired or revoked.'));
  }
  return { kind: 'client', clientId: claims.client_id, orgId: claims.org_id, permissions: new Set(claims.scope.split(' ')) };
}

/** The token of an `Authorization` header that must be `Bearer` (RFC 6750 §2.1). */
function bearerTokenOf(authorization: string): string {
  try {
    return bearerToken(authorization);
  } catch (err) {
    if (err instanceof BearerError) throw unauthenticated(err, 'Send Authorization: Bearer <access token>.');
    throw err;
  }
}

/** A 401 with the RFC 6750 §3 challenge for `err` (no error code when no token was sent). */
function unauthenticated(err: BearerError, message = err.message): Unauthenticated {
  return new Unauthenticated(message, bearerErrorResponse(err, BEARER_REALM).headers['www-authenticate']);
}

async function authorize(deps: AccessDeps, principal: Principal, access: Exclude<Access, { public: true }>, orgId: string | undefined): Promise<void> {
  if ('org' in access) {
    if (orgId === undefined) throw new Error('a route with org access has no :org parameter');
    await requireOrg(deps, principal, orgId, access.org, access.permission);
    if (access.platformAdmin) requirePlatformAdmin(principal);
  } else if ('platformAdmin' in access) {
    requirePlatformAdmin(principal);
  } else if ('signedIn' in access) {
    if (principal.kind === 'client' && !principal.permissions.has(access.permission)) throw new Forbidden(`The token lacks the ${access.permission} permission.`);
  } else if (principal.kind !== 'user') {
    throw new Forbidden('Sign in as a user.');
  }
}

async function requireOrg(deps: AccessDeps, principal: Principal, orgId: string, userNeeds: 'admin' | 'member', clientNeeds: ManagementPermission | undefined): Promise<void> {
  if (principal.kind === 'client') {
    if (principal.orgId !== orgId) throw new NotFoundError('Organization');
    if (!clientNeeds) throw new Forbidden('A client token cannot do this; sign in as a user.');
    if (!principal.permissions.has(clientNeeds)) throw new Forbidden(`The token lacks the ${clientNeeds} permission.`);
    return;
  }
  if (principal.user.platform_admin) {
    await deps.organizations.get(orgId);
    return;
  }
  const role = await deps.memberships.roleOf(orgId, principal.user.id);
  if (!role) throw new NotFoundError('Organization');
  if (userNeeds === 'admin' && role !== 'admin') throw new Forbidden('Only an organization admin may do this.');
}

function requirePlatformAdmin(principal: Principal): void {
  if (principal.kind !== 'user' || !principal.user.platform_admin) throw new Forbidden('Only a platform administrator may do this.');
}

/** The signed-in user of a route declared `user` (the hook has checked it). */
export function userOf(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  if (request.principal.kind !== 'user') throw new Forbidden('Sign in as a user.');
  return request.principal;
}

export function actorOf(request: FastifyRequest): Actor {
  const { principal } = request;
  return principal.kind === 'user' ? { type: 'user', id: principal.user.id, ip: request.ip } : { type: 'client', id: principal.clientId, ip: request.ip };
}
