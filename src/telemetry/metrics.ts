import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram, type CounterSeries, type HistogramSeries } from './hot-metrics.js';
import type { PoolUsage } from '../store/connect.js';
import { packageVersion } from './version.js';

/**
 * What the registry reads at scrape time: counts that the components keep as plain numbers on
 * their hot paths (an integer increment costs next to nothing), and gauges. Counts only grow.
 */
export interface MetricSources {
  /** Entries of the client-snapshot cache, and its hits, misses and evictions by reason. */
  grantCache: { readonly size: number; readonly counts: { hits: number; misses: number; evictedByCapacity: number; evictedByExpiry: number; evictedByChange: number } };
  /** Refusals of each failure throttle (sign-in lockout, client-auth), by its name. */
  throttles: { readonly name: string; readonly refusals: number }[];
  /** Refresh tokens presented again after use (the family is revoked). */
  refreshTokens: { readonly reuseDetections: number };
  /** Introspection answers. */
  introspection: { readonly answers: { active: number; inactive: number } };
  /** Seconds since the signing key now in use started signing; undefined before there is one. */
  signingKeyAge(): number | undefined;
  pool(): PoolUsage;
  /** Client secrets that stop working within 14 days (secret_max_age_days, or a rotation's grace period). */
  secretsExpiring(): Promise<number>;
  /** With REDIS_URL: whether Redis answers, and the limit checks this process counted alone because it did not. */
  redis?: { readonly up: boolean; readonly fallbackCount: number } | undefined;
}

/** Seconds: 0.5 ms to 10 s, for requests, signatures and queries alike (all are usually well under a millisecond to a few). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** The `operation` label of a query: its Kysely node kind, as a bounded set of words. */
const OPERATIONS: Record<string, string> = { SelectQueryNode: 'select', InsertQueryNode: 'insert', UpdateQueryNode: 'update', DeleteQueryNode: 'delete', RawNode: 'raw' };

/** The HTTP side of a request's metrics, made once per label set and found by a string key. */
interface RouteChildren {
  requests: CounterSeries;
  duration: HistogramSeries;
}

/**
 * Every Prometheus metric of one Portcullis process (docs/operator-guide.md lists them): one
 * registry per runtime, so several in one process (tests) do not collide. Names follow the
 * Prometheus conventions: a `portcullis_` prefix, `_total` counters, `_seconds` in base units.
 * Label values come from bounded sets only (route patterns, grant types we serve, OAuth error
 * codes, status classes), never from raw URLs or client ids.
 *
 * Costs on the token path: a map lookup by a string key and an increment or an observation
 * in plain numbers (hot-metrics.ts); label sets are made once per combination, not per request.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly routeChildren = new Map<string, RouteChildren>();
  private readonly issuedChildren = new Map<string, CounterSeries>();
  private readonly refusedChildren = new Map<string, CounterSeries>();
  private readonly signingChildren: { thread: HistogramSeries; inline: HistogramSeries };
  private readonly queryChildren = new Map<string, HistogramSeries>();
  private readonly requests: HotCounter;
  private readonly requestDuration: HotHistogram;
  private readonly issued: HotCounter;
  private readonly refused: HotCounter;
  private readonly queryDuration: HotHistogram;
  private readonly queryErrors: Counter<'operation'>;
  private readonly rateLimited: Counter<'limit'>;
  private readonly quotaRefusals: Counter<'client_id'>;

  constructor(sources: MetricSources, opts: { grantTypes: readonly string[] }) {
    const registers = [this.registry];
    const grantTypes = new Set(opts.grantTypes);
    this.grantTypeLabel = (value) => (typeof value === 'string' && grantTypes.has(value) ? value : 'other');
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'portcullis_build_info',
      help: 'Always 1; the labels tell the running version and Node.js version',
      labelNames: ['version', 'node_version'] as const,
      registers,
    }).set({ version: packageVersion(), node_version: process.version }, 1);

    const registry = this.registry;
    this.requests = new HotCounter('portcullis_http_requests_total', 'HTTP requests answered, by route, method and status', registry);
    this.requestDuration = new HotHistogram(
      'portcullis_http_request_duration_seconds',
      'Time from a request arriving to its answer being sent, by route pattern, method and status class',
      DURATION_BUCKETS,
      registry,
    );
    this.issued = new HotCounter('portcullis_tokens_issued_total', 'Access tokens issued by the token endpoint, by grant type', registry);
    this.refused = new HotCounter('portcullis_tokens_refused_total', 'Token requests refused, by grant type (other: missing or unsupported) and OAuth error code', registry);
    const signing = new HotHistogram(
      'portcullis_token_signing_duration_seconds',
      'Time to sign an access token, queueing for a signer thread included, by where it was signed (thread or inline)',
      DURATION_BUCKETS,
      registry,
    );
    this.signingChildren = { thread: signing.series({ mode: 'thread' }), inline: signing.series({ mode: 'inline' }) };

    const cache = sources.grantCache;
    new Gauge({
      name: 'portcullis_grant_cache_entries',
      help: 'Clients whose snapshot (organization, roles, secret hashes) is cached in this process',
      registers,
      collect() {
        this.set(cache.size);
      },
    });
    scrapedCounter(registers, 'portcullis_grant_cache_hits_total', 'Client lookups of the token path answered from the cache (unknown client ids included)', () => cache.counts.hits);
    scrapedCounter(registers, 'portcullis_grant_cache_misses_total', 'Client lookups of the token path that read the database', () => cache.counts.misses);
    new Counter({
      name: 'portcullis_grant_cache_evictions_total',
      help: 'Client snapshots dropped from the cache, by reason: capacity (least recently used), expired, changed (a change notice)',
      labelNames: ['reason'] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ reason: 'capacity' }, cache.counts.evictedByCapacity);
        this.inc({ reason: 'expired' }, cache.counts.evictedByExpiry);
        this.inc({ reason: 'changed' }, cache.counts.evictedByChange);
      },
    });

    this.queryDuration = new HotHistogram(
      'portcullis_db_query_duration_seconds',
      'Time of a database statement, waiting for a connection excluded, by operation (select, insert, update, delete, raw, other)',
      DURATION_BUCKETS,
      registry,
    );
    this.queryErrors = new Counter({ name: 'portcullis_db_query_errors_total', help: 'Database statements that failed, by operation', labelNames: ['operation'] as const, registers });
    const poolGauge = (name: string, help: string, read: (usage: PoolUsage) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(sources.pool()));
        },
      });
    poolGauge('portcullis_db_pool_max_connections', 'Connections the pool may open (1 for the embedded database)', (u) => u.max);
    poolGauge('portcullis_db_pool_connections', 'Connections the pool holds open now', (u) => u.total);
    poolGauge('portcullis_db_pool_idle_connections', 'Open connections not in use now', (u) => u.idle);
    poolGauge('portcullis_db_pool_waiting_requests', 'Statements and transactions waiting for a connection now', (u) => u.waiting);

    this.rateLimited = new Counter({
      name: 'portcullis_rate_limit_refusals_total',
      help: 'Requests refused with 429 by a request-rate limit (token: TOKEN_RATE_LIMIT, management: MANAGEMENT_RATE_LIMIT)',
      labelNames: ['limit'] as const,
      registers,
    });
    // Exposed at 0 from the start, so that rate() and alerts see the series before the first refusal.
    for (const limit of ['token', 'management']) this.rateLimited.inc({ limit }, 0);
    new Counter({
      name: 'portcullis_throttle_refusals_total',
      help: 'Requests refused with 429 after repeated authentication failures, by throttle (client-auth, sign-in)',
      labelNames: ['throttle'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of sources.throttles) this.inc({ throttle: t.name }, t.refusals);
      },
    });
    scrapedCounter(registers, 'portcullis_refresh_token_reuse_detected_total', 'Spent refresh tokens presented again (their family was revoked)', () => sources.refreshTokens.reuseDetections);
    new Counter({
      name: 'portcullis_introspections_total',
      help: 'Introspection answers, by whether the token was active',
      labelNames: ['active'] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ active: 'true' }, sources.introspection.answers.active);
        this.inc({ active: 'false' }, sources.introspection.answers.inactive);
      },
    });
    // The one metric labelled by client: an operator asks which client ran into its quota, and
    // only clients with a quota that they exceed make series.
    this.quotaRefusals = new Counter({
      name: 'portcullis_quota_refusals_total',
      help: 'Token requests refused with quota_exceeded by this process, by client',
      labelNames: ['client_id'] as const,
      registers,
    });
    new Gauge({
      name: 'portcullis_client_secrets_expiring',
      help: 'Client secrets that stop working within 14 days (secret_max_age_days, or a rotation grace period), counted at scrape time',
      registers,
      async collect() {
        this.set(await sources.secretsExpiring());
      },
    });
    const redis = sources.redis;
    if (redis) {
      new Gauge({
        name: 'portcullis_redis_up',
        help: 'Whether Redis (REDIS_URL) answers: 1, limits are shared by every process; 0, each process counts on its own',
        registers,
        collect() {
          this.set(redis.up ? 1 : 0);
        },
      });
      scrapedCounter(
        registers,
        'portcullis_redis_fallbacks_total',
        'Rate-limit and throttle operations counted in this process because Redis did not answer (unreachable, failed or timed out)',
        () => redis.fallbackCount,
      );
    }
    new Gauge({
      name: 'portcullis_signing_key_age_seconds',
      help: 'Seconds since the signing key in use started signing (rotate before it grows past your policy)',
      registers,
      collect() {
        const age = sources.signingKeyAge();
        if (age === undefined) this.reset();
        else this.set(age);
      },
    });
  }

  /** The `grant_type` label: a grant type we serve, or `other` (so made-up values add no series). */
  private readonly grantTypeLabel: (value: unknown) => string;

  /**
   * An answered request: counted by route pattern (`unmatched` for a 404 without a route), method
   * and status, and timed by status class. `seconds` is Fastify's reply.elapsedTime in seconds.
   */
  answered(route: string | undefined, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let children = this.routeChildren.get(key);
    if (!children) {
      const r = route ?? 'unmatched';
      const statusClass = STATUS_CLASSES[Math.floor(status / 100) - 1] ?? 'other';
      children = { requests: this.requests.series({ route: r, method, status: String(status) }), duration: this.requestDuration.series({ route: r, method, status_class: statusClass }) };
      this.routeChildren.set(key, children);
    }
    children.requests.inc();
    children.duration.observe(seconds);
  }

  /** An access token issued by the token endpoint. */
  tokenIssued(grantType: unknown): void {
    const label = this.grantTypeLabel(grantType);
    let child = this.issuedChildren.get(label);
    if (!child) {
      child = this.issued.series({ grant_type: label });
      this.issuedChildren.set(label, child);
    }
    child.inc();
  }

  /** A token request refused with the OAuth error `error`. */
  tokenRefused(grantType: unknown, error: string): void {
    const label = this.grantTypeLabel(grantType);
    const key = `${label} ${error}`;
    let child = this.refusedChildren.get(key);
    if (!child) {
      child = this.refused.series({ grant_type: label, error });
      this.refusedChildren.set(key, child);
    }
    child.inc();
  }

  /** A signature took `seconds`, on a signer thread or on the event loop. */
  signed(onThread: boolean, seconds: number): void {
    (onThread ? this.signingChildren.thread : this.signingChildren.inline).observe(seconds);
  }

  /** A statement ran (Kysely's query log): `kind` is its operation node's kind. */
  readonly query = (kind: string, seconds: number, failed: boolean): void => {
    const operation = OPERATIONS[kind] ?? 'other';
    let child = this.queryChildren.get(operation);
    if (!child) {
      child = this.queryDuration.series({ operation });
      this.queryChildren.set(operation, child);
    }
    child.observe(seconds);
    if (failed) this.queryErrors.inc({ operation });
  };

  /** A request refused by a request-rate limit (@fastify/rate-limit's onExceeded). */
  rateLimitExceeded(limit: 'token' | 'management'): void {
    this.rateLimited.inc({ limit });
  }

  /** A token request refused with quota_exceeded. */
  quotaRefused(clientId: string): void {
    this.quotaRefusals.inc({ client_id: clientId });
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A counter whose value is a component's own count, read at scrape time. */
function scrapedCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
