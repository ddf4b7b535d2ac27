import { randomUUID } from 'node:crypto';
import type { StoredSession } from './credentials-store.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

export const SESSION_COOKIE = 'portcullis_session';
const TIMEOUT_MS = 30_000;
/** Below this, no progress note is worth printing. */
const PROGRESS_AFTER_MS = 700;

/** How the CLI proves who it is to the management API. */
export type ManagementAuth = { kind: 'session'; session: StoredSession } | { kind: 'client'; clientId: string; clientSecret: string };

/** A page of a management list (docs/http-api.md §3). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Facts from a client-credentials token (its org is the only one it reaches). */
export interface ClientTokenFacts {
  token: string;
  clientId: string;
  orgId: string | undefined;
  scope: string[];
}

/**
 * The management API (`/api/v1`) over HTTP, as a session (cookie plus `x-csrf-token` on
 * unsafe methods) or as a client (a client-credentials token for `<issuer>/api/v1/`).
 * Every failure becomes a `CliError` with the exit code its kind deserves.
 */
export class ManagementClient {
  private clientToken: Promise<ClientTokenFacts> | undefined;
  /** This command invocation's: with a sequence number, each unsafe request's Idempotency-Key (docs/http-api.md §3.3). */
  private readonly invocation = randomUUID();
  private unsafeRequests = 0;

  constructor(
    readonly server: string,
    readonly auth: ManagementAuth,
    private readonly io: CliIo,
    /** Called when the server says the stored session has ended. */
    private readonly onSessionEnded: () => void = () => {},
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }

  /** Every item of a list, following `next_cursor`. */
  async listAll<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const page: Page<T> = await this.get<Page<T>>(`${path}${separator}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  /** The client-credentials token and what it says (client id, organization, permissions). */
  clientFacts(): Promise<ClientTokenFacts> {
    if (this.auth.kind !== 'client') throw new Error('not a client');
    const auth = this.auth;
    this.clientToken ??= this.fetchClientToken(auth.clientId, auth.clientSecret);
    return this.clientToken;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.auth.kind === 'session') {
      headers.cookie = `${SESSION_COOKIE}=${this.auth.session.cookie}`;
      if (method !== 'GET') headers['x-csrf-token'] = this.auth.session.csrf_token;
    } else {
      headers.authorization = `Bearer ${(await this.clientFacts()).token}`;
    }
    // The key makes the one retry of a lost answer safe: a change the server applied is answered again, not applied again.
    const unsafe = method !== 'GET';
    if (unsafe) headers['idempotency-key'] = `${this.invocation}.${++this.unsafeRequests}`;
    const url = `${this.server}/api/v1${path}`;
    const response = await send(this.io, url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, { retryLostAnswer: unsafe });
    if (response.status === 204) return undefined as T;
    const json = await readJson(response, url);
    if (response.ok) return json as T;
    throw this.apiError(response, json, url);
  }

  private apiError(response: Response, json: unknown, url: string): CliError {
    const body = (typeof json === 'object' && json !== null ? json : {}) as { error?: unknown; message?: unknown; details?: unknown };
    if (typeof body.error !== 'string') return new CliError(`${url} answered ${response.status} without a Portcullis error: is ${this.server} a Portcullis server?`, ExitCode.ERROR);
    const message = typeof body.message === 'string' ? body.message : body.error;
    const details = Array.isArray(body.details)
      ? body.details.map((d: { field?: unknown; message?: unknown }) => `${String(d.field ?? '').replace(/^\/body\/?/, '') || 'request'}: ${String(d.message ?? '')}`)
      : [];
    switch (response.status) {
      case 400:
        return new CliError(`The server rejected the request: ${message}`, ExitCode.USAGE, details);
      case 401:
        if (this.auth.kind === 'session') {
          this.onSessionEnded();
          return new CliError(`Your session on ${this.server} has ended. Run \`portcullis login --server ${this.server}\`.`, ExitCode.UNAUTHENTICATED);
        }
        return new CliError(`The management API refused the client's token: ${message}`, ExitCode.UNAUTHENTICATED);
      case 403:
        return new CliError(`Not allowed: ${message}`, ExitCode.FORBIDDEN, this.forbiddenHints(message));
      case 404:
        return new CliError(message, ExitCode.NOT_FOUND);
      case 409:
        return new CliError(message, ExitCode.CONFLICT);
      case 429:
        return new CliError(`Too many requests; retry in ${response.headers.get('retry-after') ?? 'a few'} seconds.`, ExitCode.RATE_LIMITED);
      default:
        return new CliError(`The server failed (${response.status} ${body.error}): ${message}`, ExitCode.ERROR);
    }
  }

  private forbiddenHints(message: string): string[] {
    if (this.auth.kind === 'client') {
      return /lacks the/.test(message)
        ? ["Give the client a role with that permission (client-manager has them all), or use a user's session: `portcullis login`."]
        : ['This needs a user: run `portcullis login` and leave out --client-id.'];
    }
    return [];
  }

  private async fetchClientToken(clientId: string, clientSecret: string): Promise<ClientTokenFacts> {
    // The audience follows ISSUER, which may differ from the URL this CLI reaches the server at.
    const metadataUrl = `${this.server}/.well-known/oauth-authorization-server`;
    const metadata = (await readJson(await send(this.io, metadataUrl, { method: 'GET', headers: { accept: 'application/json' } }), metadataUrl)) as { issuer?: unknown };
    if (typeof metadata.issuer !== 'string') throw new CliError(`${metadataUrl} names no issuer: is ${this.server} a Portcullis server?`, ExitCode.ERROR);
    const tokenUrl = `${this.server}/oauth/token`;
    const response = await send(this.io, tokenUrl, {
      method: 'POST',
      headers: {
        authorization: basicAuthorization(clientId, clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', audience: `${metadata.issuer}/api/v1/` }).toString(),
    });
    const json = (await readJson(response, tokenUrl)) as { access_token?: unknown; scope?: unknown; error?: unknown; error_description?: unknown };
    if (!response.ok || typeof json.access_token !== 'string') {
      const code = typeof json.error === 'string' ? json.error : `HTTP ${response.status}`;
      if (code === 'invalid_client') throw new CliError(`The server rejected the client credentials of ${clientId} (invalid_client).`, ExitCode.UNAUTHENTICATED);
      if (code === 'invalid_target' || code === 'invalid_scope') {
        throw new CliError(`Client ${clientId} holds no permission on the management API (${code}).`, ExitCode.FORBIDDEN, [
          'Give it the client-manager role (everything) or client-reader (read only).',
        ]);
      }
      if (response.status === 429) throw new CliError(`Too many requests; retry in ${response.headers.get('retry-after') ?? 'a few'} seconds.`, ExitCode.RATE_LIMITED);
      throw new CliError(
        `Could not get a token for ${clientId}: ${code}${typeof json.error_description === 'string' ? `: ${json.error_description}` : ''}`,
        response.status >= 500 ? ExitCode.ERROR : ExitCode.UNAUTHENTICATED,
      );
    }
    const claims = decodeJwtPayload(json.access_token);
    return {
      token: json.access_token,
      clientId,
      orgId: typeof claims.org_id === 'string' ? claims.org_id : undefined,
      scope: typeof json.scope === 'string' ? json.scope.split(' ').filter(Boolean) : [],
    };
  }
}

/** `client_secret_basic` (RFC 6749 §2.3.1): each part form-urlencoded before base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (v: string) => new URLSearchParams({ v }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Errors of a connection that broke after the request may have been sent: the answer, not the request, may be what was lost. */
const LOST_ANSWER = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * One HTTP exchange with a timeout, a progress note on a terminal, and unreachability as exit
 * code 3. With `retryLostAnswer` (a request carrying an Idempotency-Key), a connection that
 * broke before the answer came is tried once more, with the same headers.
 */
export async function send(io: CliIo, url: string, init: RequestInit, opts: { retryLostAnswer?: boolean } = {}): Promise<Response> {
  let shown = false;
  const progress = io.stderr.isTTY
    ? setTimeout(() => {
        shown = true;
        io.stderr.write(`Waiting for ${new URL(url).origin}…`);
      }, PROGRESS_AFTER_MS).unref()
    : undefined;
  try {
    const response = await io.fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    // Credentials are not followed to another address: say where to point instead.
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      throw new CliError(`${url} redirects${location ? ` to ${location}` : ''}: pass the server's final URL with --server.`, ExitCode.USAGE);
    }
    return response;
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (opts.retryLostAnswer && LOST_ANSWER.has(String((err as { cause?: { code?: string } }).cause?.code))) return send(io, url, init);
    const origin = new URL(url).origin;
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new CliError(`${origin} did not answer within ${TIMEOUT_MS / 1000} seconds.`, ExitCode.UNREACHABLE);
    }
    throw new CliError(`Cannot reach Portcullis at ${origin} (${networkReason(err)}). Is the server running? Set --server or PORTCULLIS_SERVER to point elsewhere.`, ExitCode.UNREACHABLE);
  } finally {
    clearTimeout(progress);
    if (shown) io.stderr.write('\r\x1b[K');
  }
}

export async function readJson(response: Response, url: string): Promise<unknown> {
  const text = await response.text();
  try {
    return text === '' ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new CliError(`${url} answered ${response.status} with something other than JSON: is it a Portcullis server?`, ExitCode.ERROR);
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string } }).cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return cause?.code ?? (err instanceof Error ? err.message : String(err));
  }
}

function decodeJwtPayload(token: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
