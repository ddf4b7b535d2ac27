// Everything the bench uses of Portcullis' own code, in one place, so that a rename in src/
// is adapted here only. At run time it is the BUILT server (dist/): the bench measures what
// `npm start` runs. The types come from src/, which dist/ is built from.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchClient, PortcullisProvisioning } from './child-protocol.js';

type Actor = typeof import('../src/audit/actor.js');
type Secret = typeof import('../src/clients/secret.js');
type ConfigModule = typeof import('../src/config.js');
type Ids = typeof import('../src/ids.js');
type MasterKey = typeof import('../src/keys/master-key.js');
type Main = typeof import('../src/main.js');
export type Config = import('../src/config.js').Config;
export type RunningServer = import('../src/main.js').RunningServer;
type Db = RunningServer['runtime']['store']['db'];

/** Clients created one by one through ClientService (with audit events); the rest are bulk-inserted. */
const THROUGH_SERVICE_MAX = 1000;
const THROUGH_SERVICE_WHEN_BULK = 100;
const BULK_BATCH = 1000;

/** Settings an operator may tune that the bench passes on from its own environment (e.g. SIGNING_THREADS=0 npm run bench). */
// The OTEL_* ones measure the server with tracing on (e.g. OTEL_TRACES_EXPORTER=otlp and a local collector) against without.
const TUNABLE = [
  'SIGNING_THREADS',
  'EMBEDDED_SHARED_BUFFERS_MB',
  'GRANT_CACHE_SIZE',
  'AUTH_FAILURES_PER_CLIENT',
  'AUTH_FAILURES_PER_IP',
  // REDIS_URL=redis://127.0.0.1:6379 npm run bench: the rate limit counts in Redis (allowances taken in batches, src/throttle/allowance.ts).
  'REDIS_URL',
  'REDIS_KEY_PREFIX',
  'REDIS_COMMAND_TIMEOUT',
  'REDIS_CONNECT_TIMEOUT',
  'USAGE_FLUSH_INTERVAL',
  'LOG_FORMAT',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
];

/**
 * dist/ of the checkout. The forked servers run from plain-JS copies outside bench/ (see
 * child-build.ts), where a path relative to the file would miss it: the bench names it for them.
 */
export const DIST_DIR = process.env.BENCH_DIST_DIR ?? fileURLToPath(new URL('../dist/', import.meta.url));

function fromDist<T>(file: string): Promise<T> {
  return import(pathToFileURL(path.join(DIST_DIR, file)).href) as Promise<T>;
}

export function distBuilt(): boolean {
  return fs.existsSync(path.join(DIST_DIR, 'main.js'));
}

/** A secret of the right format and checksum, so that a refusal of it comes from the hash comparison. */
export async function secretGenerator(): Promise<() => string> {
  const { generateSecret } = await fromDist<Secret>('clients/secret.js');
  return generateSecret;
}

export interface ServerSettings {
  port: string | number;
  /** Default: this node's own URL. Nodes behind one name (--nodes) share the first node's. */
  issuer?: string | undefined;
  dataDir: string | undefined;
  databaseUrl: string | undefined;
  masterKey: string;
  alg: string;
  logLevel: string;
  /** Per client (tokens) and per address (management API) and minute. */
  rateLimit: string;
  /** Where the operator's TUNABLE settings are read from. */
  env: NodeJS.ProcessEnv;
}

export interface Portcullis {
  config(settings: ServerSettings): Config;
  start(config: Config, opts?: { quiet?: boolean }): Promise<RunningServer>;
  /**
   * An organization, an API (`audience`), a role granting its two permissions, `count` clients
   * with that role, and a client-reader client for the listing: all through the product's
   * domain services, except the bulk beyond THROUGH_SERVICE_MAX.
   */
  provision(running: RunningServer, opts: { audience: string; count: number; masterKey: string }): Promise<Provisioned>;
}

export interface Provisioned {
  clients: BenchClient[];
  orgId: string;
  lister: BenchClient;
  provisioning: Omit<PortcullisProvisioning, 'rssMb'>;
}

export async function loadPortcullis(): Promise<Portcullis> {
  const [{ SYSTEM_ACTOR }, secret, { loadConfig }, ids, { deriveKey }, { startServer }] = await Promise.all([
    fromDist<Actor>('audit/actor.js'),
    fromDist<Secret>('clients/secret.js'),
    fromDist<ConfigModule>('config.js'),
    fromDist<Ids>('ids.js'),
    fromDist<MasterKey>('keys/master-key.js'),
    fromDist<Main>('main.js'),
  ]);

  /**
   * Inserts `count` clients with one secret and the role each, in batches, exactly as
   * ClientService.create stores them (src/clients/client-service.ts): the same id and secret
   * formats, and the secret's HMAC under the pepper derived from MASTER_KEY (src/runtime.ts).
   * No audit events and no change notices: nothing is cached for clients that never existed.
   */
  async function bulkInsert(db: Db, masterKey: string, orgId: string, roleId: string, count: number, out: BenchClient[]): Promise<void> {
    const hasher = new secret.SecretHasher(deriveKey(Buffer.from(masterKey, 'base64'), 'client-secret-pepper'));
    const now = new Date();
    for (let done = 0; done < count; done += BULK_BATCH) {
      const n = Math.min(BULK_BATCH, count - done);
      const rows: BenchClient[] = [];
      for (let i = 0; i < n; i++) {
        const id = ids.newClientId();
        const s = secret.generateSecret();
        rows.push({ id, secret: s });
        out.push({ id, secret: s });
      }
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('clients')
          .values(rows.map((r, i) => ({ client_id: r.id, org_id: orgId, name: `bench client ${out.length - n + i}`, refresh_tokens: false, created_at: now, updated_at: now })))
          .execute();
        await trx
          .insertInto('client_roles')
          .values(rows.map((r) => ({ client_id: r.id, role_id: roleId })))
          .execute();
        await trx
          .insertInto('client_secrets')
          .values(rows.map((r) => ({ id: ids.newId('sec'), client_id: r.id, hash: hasher.hash(r.secret), hint: secret.secretHint(r.secret), created_at: now })))
          .execute();
      });
    }
  }

  return {
    config: (s) =>
      loadConfig({
        ...Object.fromEntries(TUNABLE.filter((k) => s.env[k] !== undefined).map((k) => [k, s.env[k]])),
        PORT: String(s.port),
        HOST: '127.0.0.1',
        ISSUER: s.issuer ?? `http://127.0.0.1:${s.port}`,
        DATA_DIR: s.dataDir,
        DATABASE_URL: s.databaseUrl,
        MASTER_KEY: s.masterKey,
        SIGNING_ALG: s.alg,
        LOG_LEVEL: s.logLevel,
        TOKEN_RATE_LIMIT: s.rateLimit,
        // The listing measurement pages through the organization as fast as answers come.
        MANAGEMENT_RATE_LIMIT: s.rateLimit,
      }),

    start: (config, opts) => startServer(config, opts),

    async provision(running, { audience, count, masterKey }) {
      const { runtime } = running;
      const t0 = performance.now();
      const org = await runtime.organizations.create({ name: 'Bench organization' }, SYSTEM_ACTOR);
      await runtime.catalogService.createApi(
        {
          identifier: audience,
          name: 'Meters (bench)',
          permissions: [
            { value: 'meters:read', description: 'Read meters' },
            { value: 'meters:write', description: 'Write meters' },
          ],
        },
        SYSTEM_ACTOR,
      );
      const role = await runtime.catalogService.createRole(
        {
          name: 'Meter operator (bench)',
          description: '',
          permissions: [
            { api: audience, value: 'meters:read' },
            { api: audience, value: 'meters:write' },
          ],
        },
        SYSTEM_ACTOR,
      );

      const viaService = count <= THROUGH_SERVICE_MAX ? count : THROUGH_SERVICE_WHEN_BULK;
      const clients: BenchClient[] = [];
      for (let i = 0; i < viaService; i++) {
        const { client, client_secret } = await runtime.clients.create(org.id, { name: `bench client ${i}`, roles: [role.id] }, SYSTEM_ACTOR);
        clients.push({ id: client.client_id, secret: client_secret });
      }
      const tService = performance.now();
      const bulk = count - viaService;
      if (bulk > 0) await bulkInsert(runtime.store.db, masterKey, org.id, role.id, bulk, clients);
      const tDone = performance.now();
      // The organization's automation, as an operator would set it up: a client with the built-in
      // client-reader role, whose tokens (audience <ISSUER>/api/v1/) list the organization's clients.
      const reader = await runtime.clients.create(org.id, { name: 'bench lister', roles: ['client-reader'] }, SYSTEM_ACTOR);
      return {
        clients,
        orgId: org.id,
        lister: { id: reader.client.client_id, secret: reader.client_secret },
        provisioning: { viaService, bulk, serviceSeconds: (tService - t0) / 1000, bulkSeconds: (tDone - tService) / 1000 },
      };
    },
  };
}
