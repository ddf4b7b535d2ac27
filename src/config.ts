import path from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Every setting Portcullis reads, as environment variables (docs/http-api.md §1 plus our own).
 * The environment is read once, here; nothing else in the code looks at `process.env`.
 */
const Boolish = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]);
const IntString = (opts: { minimum: number; maximum: number }) => Type.String({ pattern: '^[0-9]+$', description: `integer ${opts.minimum}..${opts.maximum}`, ...({ 'x-range': opts } as object) });

const EnvSchema = Type.Object({
  PORT: Type.Optional(IntString({ minimum: 0, maximum: 65535 })),
  HOST: Type.Optional(Type.String({ minLength: 1 })),
  ISSUER: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+$', description: 'an http(s) URL without query or fragment' })),
  DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'a postgres:// URL' })),
  MASTER_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/_-]{42,44}={0,2}$', description: '32 bytes, base64' })),
  ADMIN_EMAIL: Type.Optional(Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', description: 'an email address' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 12, description: 'at least 12 characters' })),
  ACCESS_TOKEN_TTL: Type.Optional(IntString({ minimum: 60, maximum: 86400 })),
  ALLOW_QUERY_CREDENTIALS: Type.Optional(Boolish),
  SIGNING_ALG: Type.Optional(Type.Union([Type.Literal('ES256'), Type.Literal('RS256'), Type.Literal('EdDSA')])),
  LOG_LEVEL: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
  LOG_FORMAT: Type.Optional(Type.Union([Type.Literal('pretty'), Type.Literal('json')])),
  // OpenTelemetry's own variables (the exporter reads the rest of them itself); validated here so a typo fails at start.
  OTEL_TRACES_EXPORTER: Type.Optional(Type.Union([Type.Literal('otlp'), Type.Literal('console'), Type.Literal('none')])),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'an http(s) URL' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'an http(s) URL' })),
  TRUST_PROXY: Type.Optional(Boolish),
  DPOP_NONCE: Type.Optional(Boolish),
  BODY_LIMIT: Type.Optional(IntString({ minimum: 1024, maximum: 10485760 })),
  TOKEN_RATE_LIMIT: Type.Optional(IntString({ minimum: 0, maximum: 100000000 })),
  MANAGEMENT_RATE_LIMIT: Type.Optional(IntString({ minimum: 0, maximum: 100000000 })),
  AUTH_FAILURES_PER_CLIENT: Type.Optional(IntString({ minimum: 1, maximum: 1000000 })),
  AUTH_FAILURES_PER_IP: Type.Optional(IntString({ minimum: 1, maximum: 1000000 })),
  AUTH_FAILURE_WINDOW: Type.Optional(IntString({ minimum: 1, maximum: 86400 })),
  GRANT_CACHE_SIZE: Type.Optional(IntString({ minimum: 0, maximum: 10000000 })),
  KEY_ACTIVATION_DELAY: Type.Optional(IntString({ minimum: 0, maximum: 604800 })),
  CATALOG_FILE: Type.Optional(Type.String({ minLength: 1 })),
  WORKERS: Type.Optional(IntString({ minimum: 1, maximum: 64 })),
  SIGNING_THREADS: Type.Optional(IntString({ minimum: 0, maximum: 16 })),
  EMBEDDED_SHARED_BUFFERS_MB: Type.Optional(IntString({ minimum: 1, maximum: 1024 })),
  REFRESH_TOKEN_TTL: Type.Optional(IntString({ minimum: 300, maximum: 31536000 })),
  REFRESH_TOKEN_IDLE_TTL: Type.Optional(IntString({ minimum: 300, maximum: 31536000 })),
  DATABASE_CONNECT_TIMEOUT: Type.Optional(IntString({ minimum: 1, maximum: 300 })),
  SHUTDOWN_DRAIN_SECONDS: Type.Optional(IntString({ minimum: 0, maximum: 600 })),
  DATABASE_STATEMENT_TIMEOUT: Type.Optional(IntString({ minimum: 1, maximum: 3600 })),
  // Either URL may carry a password: a bad value is never echoed (`x-secret`).
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$', description: 'a redis:// or rediss:// URL', 'x-secret': true })),
  REDIS_KEY_PREFIX: Type.Optional(Type.String({ pattern: '^[!-~]{1,64}$', description: '1 to 64 printable characters without spaces' })),
  REDIS_COMMAND_TIMEOUT: Type.Optional(IntString({ minimum: 10, maximum: 60000 })),
  REDIS_CONNECT_TIMEOUT: Type.Optional(IntString({ minimum: 10, maximum: 60000 })),
  USAGE_RETENTION_DAYS: Type.Optional(IntString({ minimum: 1, maximum: 3650 })),
  USAGE_FLUSH_INTERVAL: Type.Optional(IntString({ minimum: 1, maximum: 60 })),
  QUOTA_SYNC_INTERVAL: Type.Optional(IntString({ minimum: 1, maximum: 60 })),
  // It may carry the SMTP password: a bad value is never echoed (`x-secret`).
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://[^\\s]+$', description: 'an smtp:// or smtps:// URL', 'x-secret': true })),
  SMTP_FROM: Type.Optional(Type.String({ pattern: '^([^\\r\\n<>@]*<[^@\\s<>]+@[^@\\s<>]+>|[^@\\s<>]+@[^@\\s<>]+)$', description: 'an address, or a name and an <address>' })),
});
type Env = Static<typeof EnvSchema>;

export type SigningAlg = 'ES256' | 'RS256' | 'EdDSA';

/** EMBEDDED_SHARED_BUFFERS_MB's default (store/connect.ts says why it is small). */
export const DEFAULT_EMBEDDED_SHARED_BUFFERS_MB = 16;

export interface Config {
  port: number;
  host: string;
  /** `iss` of every token, without a trailing slash. */
  issuer: string;
  dataDir: string;
  /** Set: a PostgreSQL server; unset: the embedded database in `dataDir`. */
  databaseUrl: string | undefined;
  /** Base64 text as given; resolved (or generated) by `resolveMasterKey`. */
  masterKey: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  accessTokenTtl: number;
  allowQueryCredentials: boolean;
  signingAlg: SigningAlg;
  logLevel: string;
  /** pretty: pino-pretty's coloured lines for a terminal; json: one JSON object per line. */
  logFormat: 'pretty' | 'json';
  /** Where spans go (telemetry/otel-sdk.ts); undefined: tracing off, the SDK is never loaded. */
  tracesExporter: 'otlp' | 'console' | undefined;
  trustProxy: boolean;
  bodyLimit: number;
  /** Token requests per client_id and address (per address for a request naming no client) per minute; 0 turns the limit off. */
  tokenRateLimit: number;
  /** Management API requests per client address per minute; 0 turns the limit off. */
  managementRateLimit: number;
  /** Failed authentications of one client_id from one address within the window after which that address is refused for that client (429). */
  authFailuresPerClient: number;
  /** Failed authentications (clients, and separately sign-ins) from one address within the window after which that address is refused for everything (429). */
  authFailuresPerIp: number;
  /** Seconds over which failed authentications are counted, and how long a refusal lasts. */
  authFailureWindow: number;
  grantCacheSize: number;
  /** Seconds between `keys rotate` publishing a new key and that key starting to sign. */
  keyActivationDelay: number;
  /** A YAML or JSON file of APIs and roles applied at every start. */
  catalogFile: string | undefined;
  /** Server processes (node:cluster); more than one needs DATABASE_URL. */
  workers: number;
  /** DPoP proofs must carry a server nonce (RFC 9449 §8), derived from MASTER_KEY so that every node accepts it. */
  dpopNonce: boolean;
  /** Worker threads per process that sign access tokens; 0 signs on the event loop (tokens/jws-signer.ts). */
  signingThreads: number;
  /** PostgreSQL's shared_buffers for the embedded database, in MB (it is all resident from the start). */
  embeddedSharedBuffersMb: number;
  /** Seconds a refresh-token family lives at most, however often it is used. */
  refreshTokenTtl: number;
  /** Seconds an unused refresh token lives. */
  refreshTokenIdleTtl: number;
  /** PostgreSQL: seconds to wait for a connection, and for a statement (server and wire), before answering 503. */
  databaseConnectTimeout: number;
  databaseStatementTimeout: number;
  /** Seconds a stopping server drains (/readyz 503, Connection: close) before it closes its port. */
  shutdownDrainSeconds: number;
  /**
   * Set: rate limits and failure throttles count in this Redis (or Valkey), shared by every
   * process and node; unset, or while it does not answer: in each process.
   */
  redisUrl: string | undefined;
  /** Begins every Redis key, so deployments sharing a server do not share counters. */
  redisKeyPrefix: string;
  /** Milliseconds a Redis command, and a connection attempt, may take before the process counts on its own. */
  redisCommandTimeoutMs: number;
  redisConnectTimeoutMs: number;
  /** Set: invitations and password links are mailed through this SMTP server, never handed to an administrator. */
  smtpUrl: string | undefined;
  /** Days usage counts are kept (housekeeping prunes older hours). */
  usageRetentionDays: number;
  /** Seconds between writes of the in-memory usage counts (at most 60: counts appear within a minute). */
  usageFlushInterval: number;
  /** PostgreSQL: seconds between exchanges of the nodes' quota counts (the overshoot bound follows it). */
  quotaSyncInterval: number;
  /** The mails' From; defaults to `Portcullis <no-reply@<ISSUER's host>>`. */
  smtpFrom: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the settings; throws a ConfigError naming every bad variable. `stdoutIsTty`
 * picks LOG_FORMAT's default: pretty for a person at a terminal, JSON for a log collector.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, stdoutIsTty: boolean = process.stdout.isTTY === true): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const problems = [...Value.Errors(EnvSchema, picked)].map(
    (e) => `${e.path.slice(1)}: ${describe(e.schema)} expected, got ${(e.schema as { 'x-secret'?: boolean })['x-secret'] ? 'something else (not shown)' : JSON.stringify(e.value)}`,
  );
  for (const [key, schema] of Object.entries(EnvSchema.properties) as [string, TSchema][]) {
    const range = (schema as { 'x-range'?: { minimum: number; maximum: number } })['x-range'];
    const raw = picked[key];
    if (range && raw !== undefined && /^[0-9]+$/.test(raw)) {
      const n = Number(raw);
      if (n < range.minimum || n > range.maximum) problems.push(`${key}: integer ${range.minimum}..${range.maximum} expected, got ${raw}`);
    }
  }
  const e = picked as Env;
  if (e.ADMIN_EMAIL && !e.ADMIN_PASSWORD) problems.push('ADMIN_PASSWORD: required when ADMIN_EMAIL is set');
  if (e.ADMIN_PASSWORD && !e.ADMIN_EMAIL) problems.push('ADMIN_EMAIL: required when ADMIN_PASSWORD is set');
  if (e.WORKERS && Number(e.WORKERS) > 1 && !e.DATABASE_URL) {
    problems.push('WORKERS: more than one process needs DATABASE_URL (the embedded database serves one process)');
  }
  const smtpProblem = e.SMTP_URL === undefined ? undefined : smtpUrlProblem(e.SMTP_URL);
  if (smtpProblem) problems.push(`SMTP_URL: ${smtpProblem}`);
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }

  const port = int(e.PORT, 8080);
  const issuer = (e.ISSUER ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    port,
    host: e.HOST ?? '127.0.0.1',
    issuer,
    dataDir: path.resolve(e.DATA_DIR ?? './data'),
    databaseUrl: e.DATABASE_URL,
    masterKey: e.MASTER_KEY,
    adminEmail: e.ADMIN_EMAIL,
    adminPassword: e.ADMIN_PASSWORD,
    accessTokenTtl: int(e.ACCESS_TOKEN_TTL, 3600),
    allowQueryCredentials: bool(e.ALLOW_QUERY_CREDENTIALS),
    signingAlg: e.SIGNING_ALG ?? 'ES256',
    logLevel: e.LOG_LEVEL ?? 'info',
    logFormat: e.LOG_FORMAT ?? (stdoutIsTty ? 'pretty' : 'json'),
    tracesExporter: tracesExporter(e),
    trustProxy: bool(e.TRUST_PROXY),
    dpopNonce: bool(e.DPOP_NONCE),
    bodyLimit: int(e.BODY_LIMIT, 16384),
    tokenRateLimit: int(e.TOKEN_RATE_LIMIT, 6000),
    managementRateLimit: int(e.MANAGEMENT_RATE_LIMIT, 1200),
    authFailuresPerClient: int(e.AUTH_FAILURES_PER_CLIENT, 20),
    authFailuresPerIp: int(e.AUTH_FAILURES_PER_IP, 100),
    authFailureWindow: int(e.AUTH_FAILURE_WINDOW, 300),
    grantCacheSize: int(e.GRANT_CACHE_SIZE, 100000),
    keyActivationDelay: int(e.KEY_ACTIVATION_DELAY, 600),
    catalogFile: e.CATALOG_FILE ? path.resolve(e.CATALOG_FILE) : undefined,
    workers: int(e.WORKERS, 1),
    signingThreads: int(e.SIGNING_THREADS, 1),
    embeddedSharedBuffersMb: int(e.EMBEDDED_SHARED_BUFFERS_MB, DEFAULT_EMBEDDED_SHARED_BUFFERS_MB),
    refreshTokenTtl: int(e.REFRESH_TOKEN_TTL, 30 * 86400),
    refreshTokenIdleTtl: int(e.REFRESH_TOKEN_IDLE_TTL, 14 * 86400),
    databaseConnectTimeout: int(e.DATABASE_CONNECT_TIMEOUT, 3),
    databaseStatementTimeout: int(e.DATABASE_STATEMENT_TIMEOUT, 10),
    shutdownDrainSeconds: int(e.SHUTDOWN_DRAIN_SECONDS, 5),
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX ?? 'portcullis:',
    redisCommandTimeoutMs: int(e.REDIS_COMMAND_TIMEOUT, 500),
    redisConnectTimeoutMs: int(e.REDIS_CONNECT_TIMEOUT, 2000),
    usageRetentionDays: int(e.USAGE_RETENTION_DAYS, 90),
    usageFlushInterval: int(e.USAGE_FLUSH_INTERVAL, 5),
    quotaSyncInterval: int(e.QUOTA_SYNC_INTERVAL, 2),
    smtpUrl: e.SMTP_URL,
    smtpFrom: e.SMTP_FROM ?? `Portcullis <no-reply@${hostOf(issuer)}>`,
  };
}

/** OTEL_TRACES_EXPORTER when set (`none`: off); otherwise OTLP when an OTLP endpoint is set; otherwise off. */
function tracesExporter(e: Env): Config['tracesExporter'] {
  if (e.OTEL_TRACES_EXPORTER !== undefined) return e.OTEL_TRACES_EXPORTER === 'none' ? undefined : e.OTEL_TRACES_EXPORTER;
  return e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined ? 'otlp' : undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname || 'localhost';
  } catch {
    return 'localhost';
  }
}

/** What is wrong with an SMTP_URL that matched the pattern, without repeating it (it may hold a password). */
function smtpUrlProblem(raw: string): string | undefined {
  if (!/^smtps?:\/\//.test(raw)) return undefined; // the schema has said so already
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  if (!url.hostname) return 'the URL names no host';
  return undefined;
}

function describe(schema: TSchema): string {
  if (typeof schema.description === 'string') return schema.description;
  if (Array.isArray(schema.anyOf)) return `one of ${schema.anyOf.map((s: TSchema) => s.const).join(', ')}`;
  return 'a valid value';
}

function int(raw: string | undefined, fallback: number): number {
  return raw === undefined ? fallback : Number(raw);
}

function bool(raw: string | undefined): boolean {
  return raw === 'true' || raw === '1';
}
