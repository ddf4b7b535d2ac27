import type { FastifyInstance, RouteOptions } from 'fastify';
import { sql } from 'kysely';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { MANAGEMENT_PERMISSIONS, managementAudience } from '../../src/catalog/management-api.js';
import { generateSecret } from '../../src/clients/secret.js';
import { MANAGEMENT_ERROR_CODES } from '../../src/errors/api-error.js';
import { NotFoundError } from '../../src/errors/domain-errors.js';
import { OAUTH_ERROR_CODES } from '../../src/errors/oauth-error.js';
import type { Access } from '../../src/http/management/access.js';
import { buildServer } from '../../src/server.js';
import { encodeCursor } from '../../src/store/pagination.js';
import type { TestDatabase } from '../helpers/databases.js';
import { joinOrganization, PASSWORD } from '../helpers/management.js';
import { basic, form, startPortcullis, TEST_ISSUER, type TestPortcullis } from '../helpers/portcullis.js';
import { render, type FuzzRequest, type JsonSchema, type RouteInfo, type Wire } from './requests.js';
import type { Ref, RefName } from './values.js';

/**
 * The target of the fuzz suite: a Portcullis on a fresh database with a log that is kept,
 * its routes as Fastify registered them, the fixtures generated requests name (a signed-in
 * platform admin, a signed-in member, a management bearer token, an organization with a
 * client, an API and a role…), and one `send` that makes a request and says everything
 * that is wrong with the answer.
 */

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240611);
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 80);

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface LogLine {
  level: number;
  msg?: string;
  err?: { type?: string; message?: string; code?: string };
  req?: { method?: string; url?: string };
}

type Fixtures = Record<RefName, string> & { memberCookie: string; memberCsrf: string; adminCookie: string; adminCsrf: string };

export interface Outcome {
  wire: Wire;
  status: number;
  body: string;
  problems: string[];
  errors: LogLine[];
}

export interface FuzzTarget {
  p: TestPortcullis;
  app: FastifyInstance;
  routes: RouteInfo[];
  /** Requests sent so far (generated ones, shrinking's replays included; not the fixtures' own). */
  sent: number;
  send(route: RouteInfo, req: FuzzRequest): Promise<Outcome>;
  close(): Promise<void>;
}

let unique = 0;
const uniq = (what: string) => `${what} ${process.pid}-${++unique}`;

/** The routes of the app, each method its own, as Fastify's `onRoute` sees them. */
async function discoverRoutes(p: TestPortcullis): Promise<RouteInfo[]> {
  const seen: RouteOptions[] = [];
  const app = await buildServer(p.runtime, { onRoute: (route) => void seen.push(route), logStream: { write: () => {} } });
  await app.close();
  const routes = new Map<string, RouteInfo>();
  for (const r of seen) {
    const schema = (r.schema ?? {}) as { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema };
    for (const method of [r.method].flat()) {
      const config = (r.config ?? {}) as { oauth?: boolean; access?: Access };
      routes.set(`${method} ${r.url}`, {
        method,
        url: r.url,
        oauth: config.oauth === true,
        access: config.access,
        schema: { ...(schema.params ? { params: schema.params } : {}), ...(schema.querystring ? { querystring: schema.querystring } : {}), ...(schema.body ? { body: schema.body } : {}) },
      });
    }
  }
  return [...routes.values()];
}

export async function startFuzzTarget(db: TestDatabase): Promise<FuzzTarget> {
  const logs: LogLine[] = [];
  const logStream = {
    write(line: string) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 60, msg: `unparseable log line: ${line}` });
      }
    },
  };
  // Warn and above are kept; no rate limits or lockouts, so that thousands of requests from one address reach the handlers.
  const p = await startPortcullis(await db.open(), {
    logStream,
    env: { LOG_LEVEL: 'warn', TOKEN_RATE_LIMIT: '0', MANAGEMENT_RATE_LIMIT: '0', AUTH_FAILURES_PER_CLIENT: '1000000', AUTH_FAILURES_PER_IP: '1000000' },
  });
  const { app, runtime: rt } = p;
  const routes = await discoverRoutes(p);
  const audienceOfApi = managementAudience(TEST_ISSUER);
  const f = {} as Fixtures;

  const missing = (lookup: () => Promise<unknown>) =>
    lookup().then(
      () => false,
      (err: unknown) => {
        if (err instanceof NotFoundError) return true;
        throw err;
      },
    );

  const signIn = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password: PASSWORD } });
    if (res.statusCode !== 200) throw new Error(`fixture sign-in of ${email}: ${res.statusCode} ${res.body}`);
    const cookie = /portcullis_session=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1];
    if (!cookie) throw new Error('no session cookie');
    return { cookie, csrf: (res.json() as { csrf_token: string }).csrf_token };
  };
  const token = async (clientId: string, secret: string, audience: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ grant_type: 'client_credentials', audience }),
    });
    return res.statusCode === 200 ? (res.json() as { access_token: string; refresh_token?: string }) : undefined;
  };

  const newAdmin = async () => {
    const email = `${uniq('admin').replace(/ /g, '-')}@example.com`;
    const { user } = await rt.users.create({ email, password: PASSWORD, name: 'Fuzz admin', platform_admin: true }, SYSTEM_ACTOR);
    const s = await signIn(email);
    Object.assign(f, { adminId: user.id, adminEmail: email, adminCookie: s.cookie, adminCsrf: s.csrf });
  };
  const newApi = async () => {
    const api = await rt.catalogService.createApi(
      { identifier: `https://${uniq('meters').replace(/ /g, '-')}.example.com/`, name: uniq('Meters'), permissions: ['meters:read', 'meters:write'].map((value) => ({ value, description: value })) },
      SYSTEM_ACTOR,
    );
    Object.assign(f, { apiId: api.id, apiIdentifier: api.identifier });
  };
  const newRole = async () => {
    const role = await rt.catalogService.createRole({ name: uniq('Meter role'), permissions: ['meters:read', 'meters:write'].map((value) => ({ api: f.apiIdentifier, value })) }, SYSTEM_ACTOR);
    f.roleId = role.id;
  };
  const newClientV = async () => {
    const { client, client_secret } = await rt.clients.create(f.orgA, { name: uniq('Daemon'), roles: [f.roleId], refresh_tokens: true }, SYSTEM_ACTOR);
    Object.assign(f, { clientV: client.client_id, clientVSecret: client_secret });
  };
  const newMgmt = async () => {
    // A role of its own: the fuzz may delete or change the built-in client-manager.
    const role = await rt.catalogService.createRole({ name: uniq('Fuzz client manager'), permissions: MANAGEMENT_PERMISSIONS.map((p) => ({ api: audienceOfApi, value: p.value })) }, SYSTEM_ACTOR);
    const { client, client_secret } = await rt.clients.create(f.orgA, { name: uniq('automation'), roles: [role.id] }, SYSTEM_ACTOR);
    Object.assign(f, { mgmtClient: client.client_id, mgmtSecret: client_secret });
    f.mgmtToken = (await token(f.mgmtClient, f.mgmtSecret, audienceOfApi))?.access_token ?? 'no-token';
  };
  const newMember = async () => {
    const email = `${uniq('member').replace(/ /g, '-')}@example.com`;
    const { user } = await rt.users.create({ email, password: PASSWORD, name: 'Fuzz member' }, SYSTEM_ACTOR);
    await joinOrganization(rt, f.orgA, email, 'member');
    const s = await signIn(email);
    Object.assign(f, { memberId: user.id, memberEmail: email, memberCookie: s.cookie, memberCsrf: s.csrf });
  };
  const newOrgA = async () => {
    f.orgA = (await rt.organizations.create({ name: uniq('Org A') }, SYSTEM_ACTOR)).id;
    await newClientV();
    await newMgmt();
    if (f.memberId && !(await missing(() => rt.users.get(f.memberId)))) await rejoin();
  };
  /** The member back in organization A, active: a pending invitation (left by a fuzzed request) is withdrawn first. */
  const rejoin = async () => {
    await rt.memberships.remove(f.orgA, f.memberId, SYSTEM_ACTOR).catch(() => {});
    await joinOrganization(rt, f.orgA, f.memberEmail, 'member');
  };
  /** A live access token and refresh token of clientV (which must allow refresh tokens). */
  const newClientTokens = async () => {
    let t = await token(f.clientV, f.clientVSecret, f.apiIdentifier);
    if (t && !t.refresh_token) {
      await rt.clients.update(f.orgA, f.clientV, { refresh_tokens: true }, SYSTEM_ACTOR);
      t = await token(f.clientV, f.clientVSecret, f.apiIdentifier);
    }
    if (!t) {
      // Its roles or secret were changed out from under us: a new client.
      await newClientV();
      t = await token(f.clientV, f.clientVSecret, f.apiIdentifier);
    }
    f.clientToken = t?.access_token ?? 'no-token';
    if (f.refreshToken) f.spentRefreshToken = f.refreshToken;
    f.refreshToken = t?.refresh_token ?? 'no-token';
  };
  const newInvite = async () => {
    const created = await rt.users.create({ email: `${uniq('invitee').replace(/ /g, '-')}@example.com` }, SYSTEM_ACTOR);
    const inviteUrl = 'invite_url' in created ? created.invite_url : undefined;
    f.inviteToken = new URL(inviteUrl ?? 'http://x/?token=none').searchParams.get('token') ?? 'none';
  };

  // The fixtures.
  await newAdmin();
  await newApi();
  await newRole();
  await newOrgA();
  await newMember();
  await newClientTokens();
  // A second pair: the first refresh token becomes spentRefreshToken, and is spent here.
  await newClientTokens();
  await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { authorization: basic(f.clientV, f.clientVSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ grant_type: 'refresh_token', refresh_token: f.spentRefreshToken }),
  });
  f.orgB = (await rt.organizations.create({ name: uniq('Org B') }, SYSTEM_ACTOR)).id;
  await newInvite();
  f.mgmtAudience = audienceOfApi;
  f.mgmtApiId = (await rt.catalogService.listApis()).find((a) => a.built_in)?.id ?? 'none';
  f.wellFormedSecret = generateSecret();
  f.cursor = encodeCursor({ at: p.clock.now().toISOString(), id: 'zzzzzzzz' });

  /** Puts back whatever a successful request took away (a fixture deleted, a session ended, a token revoked or spent). */
  const heal = async (route: RouteInfo, wire: Wire, body: string) => {
    if (route.url.endsWith('/secret/rotate')) {
      const secret = (JSON.parse(body) as { client_secret?: string }).client_secret;
      if (secret && wire.url.includes(`/clients/${f.clientV}/`)) f.clientVSecret = secret;
      if (secret && wire.url.includes(`/clients/${f.mgmtClient}/`)) f.mgmtSecret = secret;
    }
    if (route.url === '/api/v1/invites/accept') await newInvite();
    const admin = await rt.sessions.lookup(f.adminCookie).catch(() => undefined);
    if (!admin?.user.platform_admin) await newAdmin();
    if (await missing(() => rt.catalogService.getApi(f.apiId))) await newApi();
    if (await missing(() => rt.catalogService.getRole(f.roleId))) {
      await newRole();
      if (!(await missing(() => rt.clients.get(f.orgA, f.clientV)))) await rt.clients.setRoles(f.orgA, f.clientV, [f.roleId], SYSTEM_ACTOR);
    }
    if (await missing(() => rt.organizations.get(f.orgA))) {
      await newOrgA();
      await newClientTokens();
    }
    if (await missing(() => rt.organizations.get(f.orgB))) f.orgB = (await rt.organizations.create({ name: uniq('Org B') }, SYSTEM_ACTOR)).id;
    const member = await rt.sessions.lookup(f.memberCookie).catch(() => undefined);
    if (!member || !(await rt.memberships.roleOf(f.orgA, f.memberId))) {
      if (await missing(() => rt.users.get(f.memberId))) await newMember();
      else {
        if (!(await rt.memberships.roleOf(f.orgA, f.memberId))) await rejoin();
        // A changed password (or email) leaves no way to sign in as this member: a new one.
        await signIn(f.memberEmail).then((s) => Object.assign(f, { memberCookie: s.cookie, memberCsrf: s.csrf }), newMember);
      }
    }
    if (await missing(() => rt.clients.get(f.orgA, f.clientV))) {
      await newClientV();
      await newClientTokens();
    }
    const claims = await rt.accessTokens.verify(f.mgmtToken, { audience: audienceOfApi });
    if (!claims || (await rt.accessTokens.isRevoked(claims.jti)) || (await missing(() => rt.clients.get(f.orgA, f.mgmtClient)))) {
      const t = (await missing(() => rt.clients.get(f.orgA, f.mgmtClient))) ? undefined : await token(f.mgmtClient, f.mgmtSecret, audienceOfApi);
      if (t) f.mgmtToken = t.access_token;
      else await newMgmt();
    }
    const clientClaims = await rt.accessTokens.verify(f.clientToken);
    if (!clientClaims || (await rt.accessTokens.isRevoked(clientClaims.jti)) || !(await rt.refreshTokens.find(f.refreshToken))) await newClientTokens();
  };

  const fingerprint = async (): Promise<Record<string, unknown>> => {
    const counted = [
      'organizations',
      'apis',
      'api_permissions',
      'roles',
      'role_permissions',
      'clients',
      'client_roles',
      'client_secrets',
      'users',
      'memberships',
      'sessions',
      'one_time_tokens',
      'refresh_tokens',
      'revoked_access_tokens',
      'audit_events',
      'signing_keys',
    ];
    const updated = ['organizations', 'apis', 'roles', 'clients', 'users'];
    const parts = [
      ...counted.map((t) => `(select count(*) from ${t}) as "${t}"`),
      ...updated.map((t) => `(select max(updated_at) from ${t}) as "${t}.updated_at"`),
      `(select count(expires_at) from client_secrets) as "client_secrets.expiring"`,
      `(select count(used_at) from one_time_tokens) as "one_time_tokens.used"`,
      `(select count(used_at) from refresh_tokens) as "refresh_tokens.used"`,
      `(select count(revoked_at) from refresh_tokens) as "refresh_tokens.revoked"`,
      `(select max(seq) from changes) as "changes.seq"`,
    ];
    const { rows } = await sql.raw<Record<string, unknown>>(`select ${parts.join(', ')}`).execute(rt.store.db);
    return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v === null ? null : String(v)]));
  };

  const resolve = (r: Ref) => f[r.name];
  const target: FuzzTarget = {
    p,
    app,
    routes,
    sent: 0,
    async send(route, req) {
      const wire = render(route, req, resolve, { admin: { cookie: f.adminCookie, csrf: f.adminCsrf }, member: { cookie: f.memberCookie, csrf: f.memberCsrf } });
      // Every change then has a timestamp of its own, so max(updated_at) moves when a row changes.
      p.clock.advance(0.001);
      const unsafe = UNSAFE.has(wire.method);
      const before = unsafe ? await fingerprint() : undefined;
      const mark = logs.length;
      const res = await app.inject({ method: wire.method as 'GET', url: wire.url, headers: wire.headers, ...(wire.payload !== undefined ? { payload: wire.payload } : {}) });
      target.sent++;
      const errors = logs.slice(mark).filter((l) => l.level >= 50);
      const problems = contractProblems(route, wire, res.statusCode, res.headers, res.body);
      if (errors.length > 0) problems.push(`logged at error level: ${errors.map(describeLogLine).join(' | ')}`);
      if (before && res.statusCode >= 400 && !reuseDetection(route, res.body)) {
        const after = await fingerprint();
        const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
        if (changed.length > 0) problems.push(`a refused request changed the database: ${changed.map((k) => `${k} ${before[k]} → ${after[k]}`).join(', ')}`);
      }
      if (unsafe && res.statusCode < 400) await heal(route, wire, res.body);
      return { wire, status: res.statusCode, body: res.body, problems, errors };
    },
    close: () => p.close(),
  };
  return target;
}

/**
 * A spent refresh token presented again revokes its family and is audited (OAuth 2.0 Security
 * BCP §4.14.2): the one refused request that is meant to change the database.
 */
function reuseDetection(route: RouteInfo, body: string): boolean {
  return route.url.endsWith('/token') && body.includes('"invalid_grant"');
}

export function describeLogLine(l: LogLine): string {
  return `${l.msg ?? ''}${l.err ? `: ${l.err.type ?? 'Error'}: ${l.err.message ?? ''}${l.err.code ? ` (code ${l.err.code})` : ''}` : ''}`;
}

/** Everything the answer does wrong by the contract (docs/http-api.md): status, error family and shape, no-store. */
export function contractProblems(route: RouteInfo, wire: Wire, status: number, headers: Record<string, unknown>, body: string): string[] {
  const problems: string[] = [];
  // The admin web app answers 503 with a page saying so when dist/web is not built (src/http/web-routes.ts): by design.
  const unbuiltWebApp = route.url === '/*' && status === 503 && (wire.method === 'HEAD' || body.includes('The admin web app is not built'));
  if (status >= 500 && !unbuiltWebApp) problems.push(`answered ${status}`);
  if (route.oauth && !String(headers['cache-control'] ?? '').includes('no-store')) problems.push(`an OAuth answer without Cache-Control: no-store (${String(headers['cache-control'])})`);
  if (status < 400 || wire.method === 'HEAD' || unbuiltWebApp) return problems;
  if (!String(headers['content-type'] ?? '').startsWith('application/json')) {
    problems.push(`an error answer of type ${String(headers['content-type'])}`);
    return problems;
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    problems.push('an error answer that is not JSON');
    return problems;
  }
  const o = (json ?? {}) as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  if (route.oauth) {
    const statuses = (OAUTH_ERROR_CODES as Record<string, readonly number[]>)[String(o.error)];
    if (keys.join() !== 'error,error_description' || typeof o.error_description !== 'string') problems.push(`not an RFC 6749 §5.2 error body: keys ${keys.join(',')}`);
    if (!statuses) problems.push(`error "${String(o.error)}" is not an OAuth error code`);
    else if (!statuses.includes(status)) problems.push(`error "${String(o.error)}" with status ${status} (the contract says ${statuses.join('/')})`);
  } else {
    const statuses = (MANAGEMENT_ERROR_CODES as Record<string, readonly number[]>)[String(o.error)];
    if (keys.some((k) => !['details', 'error', 'message'].includes(k)) || typeof o.message !== 'string') problems.push(`not a management error body: keys ${keys.join(',')}`);
    if (!statuses) problems.push(`error "${String(o.error)}" is not a management error code`);
    else if (!statuses.includes(status)) problems.push(`error "${String(o.error)}" with status ${status} (the contract says ${statuses.join('/')})`);
    if (o.details !== undefined) {
      const ok = Array.isArray(o.details) && o.details.every((d) => d && typeof d === 'object' && typeof d.field === 'string' && typeof d.message === 'string' && Object.keys(d).length === 2);
      if (!ok) problems.push('details is not a list of {field, message}');
    }
  }
  return problems;
}

/** A string as a reader wants it in a report: escaped, and long ones cut. */
function show(s: string): string {
  const cut = s.length > 300 ? `${s.slice(0, 150)}…(${s.length} chars)…${s.slice(-50)}` : s;
  return JSON.stringify(cut);
}

export function describeOutcome(route: RouteInfo, o: Outcome): string {
  const headers = Object.entries(o.wire.headers)
    .map(([k, v]) => {
      const basic = k === 'authorization' ? /^Basic (.*)$/i.exec(v)?.[1] : undefined;
      return `    ${k}: ${show(v)}${basic !== undefined ? `   (decoded: ${show(Buffer.from(basic, 'base64').toString('utf8'))})` : ''}`;
    })
    .join('\n');
  return [
    `${o.wire.method} ${show(o.wire.url)}   (route ${route.method} ${route.url})`,
    headers,
    ...(o.wire.payload !== undefined ? [`    body: ${show(o.wire.payload)}`] : []),
    `  → ${o.status} ${show(o.body)}`,
    ...o.problems.map((p) => `  ✗ ${p}`),
  ].join('\n');
}
