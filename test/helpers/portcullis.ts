import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ApiError } from '../../src/errors/api-error.js';
import { asApiError } from '../../src/http/error-handler.js';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { loadConfig, type Config } from '../../src/config.js';
import { Runtime } from '../../src/runtime.js';
import { buildServer } from '../../src/server.js';
import type { Store } from '../../src/store/connect.js';
import { TestClock } from './clock.js';

export const TEST_ISSUER = 'http://localhost:8080';

export interface TestPortcullis {
  runtime: Runtime;
  app: FastifyInstance;
  clock: TestClock;
  config: Config;
  close(): Promise<void>;
}

/** A runtime and its Fastify app (for `inject`) on the given store, with a movable clock. */
export async function startPortcullis(
  store: Store,
  opts: { env?: Record<string, string>; clock?: TestClock; logStream?: { write(line: string): void }; masterKey?: string; webRoot?: string; tracer?: Tracer } = {},
): Promise<TestPortcullis> {
  const config = loadConfig({
    ISSUER: TEST_ISSUER,
    MASTER_KEY: opts.masterKey ?? randomBytes(32).toString('base64'),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const clock = opts.clock ?? new TestClock();
  const runtime = await Runtime.start(config, { store, clock, tracer: opts.tracer });
  const app = await buildServer(runtime, { logStream: opts.logStream, webRoot: opts.webRoot });
  await app.ready();
  return {
    runtime,
    app,
    clock,
    config,
    close: async () => {
      await app.close();
      await runtime.close();
    },
  };
}

export interface SeededClient {
  orgId: string;
  apiIdentifier: string;
  roleId: string;
  clientId: string;
  secret: string;
}

let counter = 0;

/**
 * An organization, an API with `permissions`, a role granting `granted` (default: all)
 * and a client holding that role. Names are unique per call, so tests sharing a database do not collide.
 */
export async function seedClient(runtime: Runtime, opts: { permissions?: string[]; granted?: string[]; ttl?: number; refreshTokens?: boolean } = {}): Promise<SeededClient> {
  const n = `${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
  const permissions = opts.permissions ?? ['meters:read', 'meters:write'];
  const org = await runtime.organizations.create({ name: `Org ${n}` }, SYSTEM_ACTOR);
  const api = await runtime.catalogService.createApi(
    { identifier: `https://meters-${n}.example.com/`, name: `Meters ${n}`, permissions: permissions.map((value) => ({ value, description: value })), access_token_ttl: opts.ttl ?? null },
    SYSTEM_ACTOR,
  );
  const role = await runtime.catalogService.createRole(
    { name: `Meter role ${n}`, description: '', permissions: (opts.granted ?? permissions).map((value) => ({ api: api.identifier, value })) },
    SYSTEM_ACTOR,
  );
  const { client, client_secret } = await runtime.clients.create(org.id, { name: `Daemon ${n}`, roles: [role.id], refresh_tokens: opts.refreshTokens }, SYSTEM_ACTOR);
  return { orgId: org.id, apiIdentifier: api.identifier, roleId: role.id, clientId: client.client_id, secret: client_secret };
}

export function basic(id: string, secret: string, encode = true): string {
  const e = encode ? (s: string) => encodeURIComponent(s) : (s: string) => s;
  return `Basic ${Buffer.from(`${e(id)}:${e(secret)}`).toString('base64')}`;
}

export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/**
 * One Portcullis for a whole describe block on a fresh database: started before its tests,
 * closed (and the database dropped) after them. `onStart` receives it.
 */
export function usePortcullis(db: { open(): Promise<Store>; dispose(): Promise<void> }, onStart: (p: TestPortcullis) => void, opts: Parameters<typeof startPortcullis>[1] = {}): void {
  let started: TestPortcullis | undefined;
  beforeAll(async () => {
    started = await startPortcullis(await db.open(), opts);
    onStart(started);
  });
  afterAll(async () => {
    await started?.close();
    await db.dispose();
  });
}

/**
 * The management API's answer to the error `promise` rejects with, as the HTTP edge maps it
 * (fails the test if it resolves, or rejects with an error that would be a 500).
 */
export async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  const mapped = asApiError(err as Error);
  expect(mapped, `an error the edge answers 500: ${String(err)}`).toBeDefined();
  return mapped as ApiError;
}
