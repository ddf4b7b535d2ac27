import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { AuditLog } from './audit/audit-log.js';
import { applyCatalogFile, readCatalogFile } from './catalog/catalog-file.js';
import { CatalogCache } from './catalog/catalog-cache.js';
import { CatalogService } from './catalog/catalog-service.js';
import { ensureManagementApi, managementAudience } from './catalog/management-api.js';
import { ClientService } from './clients/client-service.js';
import { ClientSnapshotCache } from './clients/client-snapshots.js';
import { SecretHasher } from './clients/secret.js';
import { UsageRecorder } from './usage/usage-recorder.js';
import { PolicyCache } from './usage/policy-cache.js';
import { PolicyService } from './usage/policy-service.js';
import { LocalQuotaStore, type QuotaStore } from './usage/quota-store.js';
import { RedisQuotaStore } from './usage/redis-quota-store.js';
import { QuotaSync } from './usage/quota-sync.js';
import { Quotas } from './usage/quotas.js';
import { SecretRules } from './usage/secret-rules.js';
import { TokenMeter } from './usage/token-meter.js';
import { UsageCounter } from './usage/usage-counter.js';
import { UsageService } from './usage/usage-service.js';
import { addMs, systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { Housekeeping } from './housekeeping.js';
import { IdempotencyKeys } from './idempotency/idempotency-keys.js';
import { KeyService } from './keys/key-service.js';
import { deriveKey, resolveMasterKey } from './keys/master-key.js';
import { ClientAssertionVerifier } from './oauth/client-assertion.js';
import { ClientAuthenticator } from './oauth/client-authenticator.js';
import { clientCredentialsGrant } from './oauth/grants/client-credentials.js';
import { refreshTokenGrant } from './oauth/grants/refresh-token.js';
import { Introspection } from './oauth/introspection.js';
import { Revocation } from './oauth/revocation.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { DpopNonces, DpopVerifier } from './oauth/dpop.js';
import { InvitationLinks } from './orgs/invitation-links.js';
import { type Mailer, smtpMailer } from './orgs/mailer.js';
import { MembershipService } from './orgs/membership-service.js';
import { OrganizationService } from './orgs/organization-service.js';
import { SessionService, SIGN_IN_FAILURES_PER_ACCOUNT } from './orgs/session-service.js';
import { UserService } from './orgs/user-service.js';
import { ChangeFeed } from './store/change-feed.js';
import { openStore, type Store } from './store/connect.js';
import { SharedRedis } from './store/redis.js';
import { Metrics } from './telemetry/metrics.js';
import { FailureThrottle } from './throttle/failure-throttle.js';
import { type Limiters, memoryLimiters, redisLimiters } from './throttle/limiters.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import { JwsSigner } from './tokens/jws-signer.js';
import { RefreshTokenService } from './tokens/refresh-tokens.js';

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** An open store to use instead of opening one from the config (tests). */
  store?: Store;
  /** With tracing on (telemetry/tracing.ts): the tracer of the token path's and the store's spans. */
  tracer?: Tracer | undefined;
}

/**
 * The wiring of a running Portcullis: the store, the change feed and the caches that follow
 * it, the domain services, and the OAuth machinery. It holds no logic of its own: caches
 * reload themselves (as feed subscribers), housekeeping is its own module, keys rotate in
 * keys/. HTTP is built on top of this (server.ts); the CLI uses it directly.
 */
export class Runtime {
  readonly feed: ChangeFeed;
  readonly catalog: CatalogCache;
  readonly signingKeys: KeyService;
  readonly clientSnapshots: ClientSnapshotCache;
  readonly clients: ClientService;
  readonly catalogService: CatalogService;
  readonly organizations: OrganizationService;
  readonly users: UserService;
  readonly memberships: MembershipService;
  readonly sessions: SessionService;
  readonly audit: AuditLog;
  readonly usage: UsageRecorder;
  readonly usageCounter: UsageCounter;
  readonly usageReports: UsageService;
  readonly policies: PolicyCache;
  readonly policyService: PolicyService;
  readonly quotas: Quotas;
  /** With DATABASE_URL: the nodes' quota counts exchanged through the database. */
  readonly quotaSync: QuotaSync | undefined;
  readonly signer: JwsSigner;
  readonly refreshTokens: RefreshTokenService;
  readonly accessTokens: AccessTokenVerifier;
  readonly authenticator: ClientAuthenticator;
  readonly tokenEndpoint: TokenEndpoint;
  readonly introspection: Introspection;
  readonly revocation: Revocation;
  readonly housekeeping: Housekeeping;
  /** Where rate limits, throttles and quotas count: Redis with REDIS_URL (shared by every process), else this process. */
  readonly limiters: Limiters;
  readonly idempotencyKeys: IdempotencyKeys;
  /** This process's Prometheus metrics (GET /metrics). */
  readonly metrics: Metrics;
  /** Set when tracing is on; undefined: no spans are made at all. */
  readonly tracer: Tracer | undefined;
  /** With SMTP_URL: sends invitations and password links. */
  private readonly mailer: Mailer | undefined;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly clock: Clock,
    masterKey: Buffer,
    logger: RuntimeOptions['logger'],
    /** With REDIS_URL. */
    readonly redis: SharedRedis | undefined,
    tracer: Tracer | undefined,
  ) {
    const { data } = store;
    this.limiters = redis ? redisLimiters(redis) : memoryLimiters;
    this.tracer = tracer;
    const hasher = new SecretHasher(deriveKey(masterKey, 'client-secret-pepper'));
    this.feed = new ChangeFeed(data.read, store, clock, (err, what) => logger?.error({ err }, what));
    this.catalog = new CatalogCache(data.read);
    this.signingKeys = new KeyService(data, this.feed, this.catalog, deriveKey(masterKey, 'signing-key-encryption'), { alg: config.signingAlg, defaultTokenTtl: config.accessTokenTtl }, clock);
    this.clientSnapshots = new ClientSnapshotCache(data.read, config.grantCacheSize);
    this.policies = new PolicyCache(data.read);
    // The catalog first: the key ring's publication window follows the catalog's longest token lifetime.
    for (const subscriber of [this.catalog, this.signingKeys, this.clientSnapshots, this.policies]) this.feed.subscribe(subscriber);

    this.clients = new ClientService(data, this.feed, hasher, clock);
    this.catalogService = new CatalogService(data, this.feed, clock);
    this.organizations = new OrganizationService(data, this.feed, clock);
    this.mailer = config.smtpUrl ? smtpMailer(config.smtpUrl, config.smtpFrom) : undefined;
    const links = new InvitationLinks(config.issuer, clock, this.mailer);
    // One throttle for sign-in and for the password that proves an account accepting an invitation.
    const loginThrottle = new FailureThrottle(
      {
        name: 'sign-in',
        failuresPerKeyFromAddress: SIGN_IN_FAILURES_PER_ACCOUNT,
        failuresPerAddress: config.authFailuresPerIp,
        guardKeyAfter: SIGN_IN_FAILURES_PER_ACCOUNT,
        windowSeconds: config.authFailureWindow,
        limiters: this.limiters,
      },
      clock,
    );
    this.users = new UserService(data, clock, config.issuer, links, loginThrottle);
    this.memberships = new MembershipService(data, this.users, links, clock);
    this.sessions = new SessionService(data, this.users, loginThrottle, clock);
    this.audit = new AuditLog(data.read);
    this.idempotencyKeys = new IdempotencyKeys(data, clock);

    this.usage = new UsageRecorder(data, 5000, (err) => logger?.warn({ err }, 'could not record client usage'), { clock });
    this.usageCounter = new UsageCounter(data, config.usageFlushInterval * 1000, (err) => logger?.warn({ err }, 'could not write usage counts'), { clock });
    this.usageReports = new UsageService(data.read, clock);
    this.policyService = new PolicyService(data, this.feed, clock);
    // Embedded: one process, its own counts are all there is. PostgreSQL: any number of nodes.
    this.quotaSync = store.kind === 'postgres' ? new QuotaSync(data, clock, config.quotaSyncInterval * 1000, (err) => logger?.warn({ err }, 'could not exchange quota counts')) : undefined;
    // With REDIS_URL quotas count in Redis, exact across nodes; without (or while it does not answer), in this process and the database's exchange.
    const localQuotas: QuotaStore = this.quotaSync?.store ?? new LocalQuotaStore();
    const quotaStore: QuotaStore = redis ? new RedisQuotaStore(redis, localQuotas) : localQuotas;
    this.quotas = new Quotas(quotaStore, this.policies, clock);
    this.signer = new JwsSigner(config.signingThreads, (err) => logger?.error({ err }, 'a signer thread failed; signing on the main thread instead'), {
      signed: (onThread, seconds) => this.metrics.signed(onThread, seconds),
      tracer,
    });
    this.refreshTokens = new RefreshTokenService(data, clock, { absoluteTtlSeconds: config.refreshTokenTtl, idleTtlSeconds: config.refreshTokenIdleTtl });
    this.accessTokens = new AccessTokenVerifier(config.issuer, () => this.signingKeys.ring, clock, data.read);
    const clientThrottle = new FailureThrottle(
      // No per-client_id guard: a secret has 256 random bits, and the client's own stray failures must not lock it out while someone else fails for it.
      {
        name: 'client-auth',
        failuresPerKeyFromAddress: config.authFailuresPerClient,
        failuresPerAddress: config.authFailuresPerIp,
        windowSeconds: config.authFailureWindow,
        limiters: this.limiters,
      },
      clock,
    );
    const assertions = new ClientAssertionVerifier(config.issuer, (clientId, jti, expiresAt) => data.read.tokenState.claimJti('client_assertion', clientId, jti, expiresAt), clock);
    this.authenticator = new ClientAuthenticator(this.clientSnapshots, hasher, clientThrottle, this.usage, clock, assertions, new SecretRules(this.policies, data, this.feed));
    const meter = new TokenMeter(this.usageCounter, this.quotas, this.clientSnapshots, () => this.catalog.snapshot);
    const issuing = {
      issuer: config.issuer,
      defaultTtl: config.accessTokenTtl,
      clock,
      catalog: () => this.catalog.snapshot,
      keys: () => this.signingKeys.ring,
      signer: this.signer,
      refreshTokens: this.refreshTokens,
      policyOf: (orgId: string) => this.policies.of(orgId),
      onIssued: meter.issued.bind(meter),
    };
    const grantTypes = new Map([
      ['client_credentials', clientCredentialsGrant(issuing)],
      ['refresh_token', refreshTokenGrant(issuing)],
    ]);
    const dpop = new DpopVerifier(
      (jkt, jti, expiresAt) => data.read.tokenState.claimJti('dpop_proof', jkt, jti, expiresAt),
      clock,
      config.dpopNonce ? new DpopNonces(deriveKey(masterKey, 'dpop-nonce'), clock) : undefined,
    );
    this.tokenEndpoint = new TokenEndpoint(this.authenticator, grantTypes, dpop, meter, tracer);
    this.introspection = new Introspection(config.issuer, this.accessTokens, this.refreshTokens, this.clientSnapshots, () => this.catalog.snapshot);
    this.revocation = new Revocation(this.accessTokens, this.refreshTokens, () => this.catalog.snapshot, managementAudience(config.issuer));
    this.housekeeping = new Housekeeping(
      [
        { what: 'prune expired refresh tokens', run: () => this.refreshTokens.prune() },
        { what: 'prune expired revocations', run: () => this.accessTokens.prune() },
        { what: 'prune expired assertion and proof ids', run: () => data.read.tokenState.pruneUsedJtis(clock.now()) },
        { what: 'prune old changes', run: () => this.feed.prune() },
        { what: 'prune old usage', run: () => this.usageReports.prune(config.usageRetentionDays) },
        { what: 'prune expired idempotency keys', run: () => this.idempotencyKeys.prune() },
        { what: 'vacuum the embedded database', run: () => store.maintain() },
      ],
      logger,
    );
    this.metrics = new Metrics(
      {
        grantCache: this.clientSnapshots,
        throttles: [clientThrottle, loginThrottle],
        refreshTokens: this.refreshTokens,
        introspection: this.introspection,
        signingKeyAge: () => {
          const now = clock.now();
          try {
            return (now.getTime() - this.signingKeys.ring.signingKey(now).activatesAt.getTime()) / 1000;
          } catch {
            return undefined; // not loaded yet, or no key active yet
          }
        },
        pool: () => store.poolUsage(),
        secretsExpiring: () => {
          const now = clock.now();
          return data.read.usage.secretsExpiringBy(now, addMs(now, 14 * 86400_000));
        },
        redis,
      },
      { grantTypes: this.tokenEndpoint.grantTypes },
    );
    this.quotas.onRefusal((clientId) => this.metrics.quotaRefused(clientId));
    store.instrument({ queries: this.metrics.query, tracer });
  }

  static async start(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
    const master = resolveMasterKey(config);
    if (master.generated) opts.logger?.warn(`generated a master key in ${config.dataDir}/master.key: back it up; without it the signing keys cannot be read`);
    const store =
      opts.store ??
      (await openStore({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        sharedBuffersMb: config.embeddedSharedBuffersMb,
        connectTimeoutMs: config.databaseConnectTimeout * 1000,
        statementTimeoutMs: config.databaseStatementTimeout * 1000,
      }));
    const redis = config.redisUrl
      ? new SharedRedis({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, connectTimeoutMs: config.redisConnectTimeoutMs }, opts.logger)
      : undefined;
    try {
      // Waits at most REDIS_CONNECT_TIMEOUT: without Redis the limits count in this process until it answers.
      await redis?.connect();
      const runtime = new Runtime(config, store, opts.clock ?? systemClock, master.key, opts.logger, redis, opts.tracer);
      // Listening before anything is loaded: a change made while the caches load is announced.
      await runtime.feed.start();
      await runtime.catalog.load();
      await runtime.policies.load();
      await ensureManagementApi(store.data.read, runtime.catalogService, config.issuer);
      if (config.catalogFile) {
        const result = await applyCatalogFile(runtime.catalogService, readCatalogFile(config.catalogFile), { type: 'system', id: 'CATALOG_FILE' });
        opts.logger?.info(`applied ${config.catalogFile}: ${result.created} created, ${result.updated} updated`);
      }
      if (await runtime.signingKeys.ensureFirstKey()) opts.logger?.info(`generated the first ${config.signingAlg} signing key`);
      await runtime.signingKeys.load();
      if (config.adminEmail && config.adminPassword) {
        const admin = await runtime.users.ensureAdmin(config.adminEmail, config.adminPassword);
        if (admin) opts.logger?.info(`created the platform administrator ${admin.email} (ADMIN_EMAIL)`);
      }
      runtime.usage.start();
      runtime.usageCounter.start();
      runtime.quotaSync?.start();
      runtime.housekeeping.start();
      return runtime;
    } catch (err) {
      await redis?.close();
      if (!opts.store) await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.housekeeping.stop();
    this.quotaSync?.stop();
    await this.usage.stop();
    await this.usageCounter.stop();
    await this.signer.close();
    this.mailer?.close();
    await this.redis?.close();
    this.store.instrument(undefined);
    await this.store.close();
  }
}
