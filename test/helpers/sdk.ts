import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { Runtime } from '../../src/runtime.js';
import { startRealServer, tempDataDir } from './server.js';

export type RealServer = Awaited<ReturnType<typeof startRealServer>>;

/** A real Portcullis on the embedded database, listening on a free port. */
export function startSdkServer(env: Record<string, string> = {}): Promise<RealServer> {
  return startRealServer({ dataDir: tempDataDir(), masterKey: randomBytes(32).toString('base64'), env });
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
  authorization: string | null;
  /** The DPoP proof header (RFC 9449 §4.1). */
  dpop: string | null;
  /** The answer's status and body, once it has come. */
  status?: number;
  answer?: string;
}

/**
 * A fetch that records every request (what the server saw, counted at the wire) and can
 * inject failures before they reach the network: `failNext(path, n, how)`.
 */
export function recordingFetch() {
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, (() => Response | never)[]>();
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    const body = request.body ? await request.clone().text() : '';
    const recorded: RecordedRequest = { method: request.method, path, body, authorization: request.headers.get('authorization'), dpop: request.headers.get('dpop') };
    requests.push(recorded);
    const fault = faults.get(path)?.shift();
    if (fault) return fault();
    const response = await globalThis.fetch(request);
    recorded.status = response.status;
    recorded.answer = await response.clone().text();
    return response;
  };
  return {
    fetch,
    requests,
    count: (path: string) => requests.filter((r) => r.path === path).length,
    bodies: (path: string) => requests.filter((r) => r.path === path).map((r) => new URLSearchParams(r.body)),
    /** The next `n` requests to `path` fail as `how` says, without reaching the server. */
    failNext(path: string, n: number, how: 'network' | 503) {
      const list = faults.get(path) ?? [];
      for (let i = 0; i < n; i++) {
        list.push(() => {
          if (how === 'network') throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' }) });
          return new Response('<html>Service Unavailable</html>', { status: 503, headers: { 'content-type': 'text/html' } });
        });
      }
      faults.set(path, list);
    },
  };
}

/**
 * A token signed with the server's own active key, with any claims and header: how a test
 * makes an expired, foreign-issuer or wrongly typed token that is otherwise genuine.
 */
export async function signWithServerKey(runtime: Runtime, claims: JWTPayload, header: { typ?: string } = {}): Promise<string> {
  const key = runtime.signingKeys.ring.signingKey(runtime.clock.now());
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: header.typ ?? 'at+jwt', kid: key.kid }).sign(key.privateKey);
}

/** RFC 9068 claims like the server's, for `signWithServerKey`. */
export function claimsFor(issuer: string, audience: string, clientId: string, overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    sub: clientId,
    aud: audience,
    client_id: clientId,
    org_id: 'org_test',
    scope: 'meters:read meters:write',
    roles: [],
    iat: now,
    exp: now + 300,
    jti: randomBytes(16).toString('hex'),
    ...overrides,
  };
}

/** A clock a token source can run on, moved by hand. */
export function manualClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}
