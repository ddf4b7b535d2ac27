/**
 * The management API (/api/v1) as the web app uses it: JSON in and out, the session
 * cookie, and the CSRF token on every unsafe request. Errors become {@link ApiFailure}
 * with a message written for a person.
 */

import type { Json } from '../../src/wire/json.js';
import type * as wire from '../../src/wire/management.js';

// The server's wire types, as the JSON the app receives: one definition, in src/wire/.
export type Me = Json<wire.Me>;
export type OrgRef = Me['organizations'][number];
export type Organization = Json<wire.Organization>;
export type Permission = Json<wire.Permission>;
export type Api = Json<wire.Api>;
export type Role = Json<wire.Role>;
export type Client = Json<wire.Client>;
export type Rotated = Json<wire.RotateAnswer>;
export type User = Json<wire.UserWithInvite>;
export type Member = Json<wire.MemberWithInvite>;
export type InviteLookup = Json<wire.InviteLookup>;
export type AuditEvent = Json<wire.AuditEvent>;
export type Page<T> = wire.Page<T>;
export type TokenQuota = Json<wire.TokenQuota>;
export type TokenClaims = Json<wire.TokenClaims>;
export type Policy = Json<wire.Policy>;
export type PolicyAnswer = Json<wire.PolicyAnswer>;
export type Usage = Json<wire.Usage>;
export type OrganizationUsage = Json<wire.OrganizationUsage>;
type ErrorBody = Partial<wire.ErrorBody>;

/** A failed call, with `message` fit to show next to the control the person used. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** The server's `details`, one line per field, when the message alone does not name them. */
    readonly details: readonly string[] = [],
    /** The server's per-field refusals (`/body/token_claims/sub`), to show next to that field. */
    readonly fieldErrors: readonly { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSessionEnded: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when a signed-in request answers 401: the session ended elsewhere or expired. */
export function onUnauthenticated(handler: () => void): void {
  onSessionEnded = handler;
}

const FIELD_NAMES: Record<string, string> = {
  email: 'Email',
  password: 'Password',
  name: 'Name',
  identifier: 'Identifier',
  access_token_ttl: 'Token lifetime',
  permissions: 'Permissions',
  roles: 'Roles',
  grace_period_seconds: 'Grace period',
  token: 'Link',
  current_password: 'Password',
  value: 'Permission',
  description: 'Description',
  id: 'ID',
  role: 'Role',
  token_quota: 'Token quota',
  limit: 'Quota limit',
  token_claims: 'Token claims',
  max_clients: 'Max clients',
  max_access_token_ttl: 'Max token lifetime',
  secret_max_age_days: 'Secret max age',
  retire_when_unused_seconds: 'Retire when unused',
};

function fieldLabel(pointer: string): string {
  const parts = pointer.split('/').filter((p) => p && p !== 'body' && p !== 'params' && p !== 'querystring' && !/^\d+$/.test(p));
  const last = parts.at(-1) ?? 'value';
  return FIELD_NAMES[last] ?? last.replace(/_/g, ' ');
}

/** Ajv's wording ("must NOT have fewer than 12 characters") in plain words. */
function plainRule(message: string): string {
  return message
    .replace(/^must NOT have fewer than (\d+) characters$/, 'must be at least $1 characters long')
    .replace(/^must NOT have more than (\d+) characters$/, 'must be at most $1 characters long')
    .replace(/^must match format "email"$/, 'must be a valid email address')
    .replace(/^must match pattern .*$/, 'contains characters that are not allowed')
    .replace(/^must be >= (\d+)$/, 'must be at least $1')
    .replace(/^must be <= (\d+)$/, 'must be at most $1')
    .replace(/^must have required property .*$/, 'is required')
    .replace(/^at least (\d+) characters$/, 'must be at least $1 characters long');
}

function explain(status: number, body: ErrorBody, retryAfter: string | null): string {
  if (status === 429) return `Too many attempts. Wait ${retryAfter ? `${retryAfter} seconds` : 'a moment'} and try again.`;
  if (status >= 500) return 'Something went wrong on the server. Try again; if it keeps happening, check the Portcullis log.';
  // A schema refusal comes with the generic message and a list of fields: name them.
  // Otherwise the server's own message is already written for a person.
  if (status === 400 && body.details?.length && (!body.message || body.message === 'The request is invalid.')) {
    const fields = body.details.map((d) => `${fieldLabel(d.field)} ${plainRule(d.message)}`);
    return `Please check: ${[...new Set(fields)].join('; ')}.`;
  }
  if (status === 404 && body.message && !/^Organization /.test(body.message)) return `${body.message} It may have been deleted meanwhile; reload the page to see the current state.`;
  return body.message ?? `The request failed (HTTP ${status}).`;
}

/** The lines of a refusal's `details` the message did not fold in already (a schema refusal lists its fields in the message). */
function detailLines(status: number, body: ErrorBody): string[] {
  if (status !== 400 || !body.details?.length || !body.message || body.message === 'The request is invalid.') return [];
  return [...new Set(body.details.map((d) => `${fieldLabel(d.field)}: ${d.message}`))];
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiFailure('Portcullis could not be reached. Check your connection and try again.', 0, 'network');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = (parsed ?? {}) as ErrorBody;
    if (res.status === 401 && path !== '/session' && csrfToken) onSessionEnded?.();
    throw new ApiFailure(explain(res.status, err, res.headers.get('retry-after')), res.status, err.error ?? 'error', detailLines(res.status, err), err.details ?? []);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: (path: string) => request<void>('DELETE', path),
};

export const enc = encodeURIComponent;

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function detailsOf(err: unknown): readonly string[] {
  return err instanceof ApiFailure ? err.details : [];
}
