import type { Logger } from 'pino';
import { AuditLog } from './audit/audit-log.js';
import { applyCatalogFile, readCatalogFile } from './catalog/catalog-file.js';
import { CatalogCache } from './catalog/catalog-cache.js';
import { CatalogService } from './catalog/catalog-service.js';
import { ensureManagementApi, managementAudience } from './catalog/management-api.js';
import { ClientService } from './clients/client-service.js';
import { ClientSnapshotCache } from './clients/client-snapshots.js';
import { SecretHasher } from './clients/secret.js';
import { UsageRecorder } from './clients/usage-recorder.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { Housekeeping } from './housekeeping.js';
import { KeyService } from './keys/key-service.js';
import { deriveKey, resolveMasterKey } from './keys/master-key.js';
import { ClientAssertionVerifier } from './oauth/client-assertion.js';
import { ClientAuthenticator } from './oauth/client-authenticator.js';
import { clientCredentialsGrant } from './oauth/grants/client-credentials.js';
import { refreshTokenGrant } from './oauth/grants/refresh-token.js';
import { Introspection } from './oauth/introspection.js';
import { Revocation } from './oauth/revocation.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { InvitationLinks } from './orgs/invitation-links.js';
import { type Mailer, smtpMailer } from './orgs/mailer.js';
import { MembershipService } from './orgs/membership-service.js';
import { OrganizationService } from './orgs/organization-service.js';
import { SessionService, SIGN_IN_FAILURES_PER_ACCOUNT } from './orgs/session-service.js';
import { UserService } from './orgs/user-service.js';
import { ChangeFeed } from './store/change-feed.js';
import { openStore, type Store } from './store/connect.js';
import { FailureThrottle } from './throttle/failure-throttle.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import { JwsSigner } from './tokens/jws-signer.js';
import { RefreshTokenService } from './tokens/refresh-tokens.js';

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** An open store to use instead of opening one from the config (tests). */
  store?: Store;
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
  readonly signer: JwsSigner;
  readonly refreshTokens: RefreshTokenService;
  readonly accessTokens: AccessTokenVerifier;
  readonly authenticator: ClientAuthenticator;
  readonly tokenEndpoint: TokenEndpoint;
  readonly introspection: Introspection;
  readonly revocation: Revocation;
  readonly housekeeping: Housekeeping;
  /** With SMTP_URL: sends invitations and password links. */
  private readonly mailer: Mailer | undefined;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly clock: Clock,
    masterKey: Buffer,
    logger: RuntimeOptions['logger'],
  ) {
    const { data } = store;
    const hasher = new SecretHasher(deriveKey(masterKey, 'client-secret-pepper'));
    this.feed = new ChangeFeed(data.read, store, clock, (err, what) => logger?.error({ err }, what));
    this.catalog = new CatalogCache(data.read);
    this.signingKeys = new KeyService(data, this.feed, this.catalog, deriveKey(masterKey, 'signing-key-encryption'), { alg: config.signingAlg, defaultTokenTtl: config.accessTokenTtl }, clock);
    this.clientSnapshots = new ClientSnapshotCache(data.read, config.grantCacheSize);
    // The catalog first: the key ring's publication window follows the catalog's longest token lifetime.
    for (const subscriber of [this.catalog, this.signingKeys, this.clientSnapshots]) this.feed.subscribe(subscriber);

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
      },
      clock,
    );
    this.users = new UserService(data, clock, config.issuer, links, loginThrottle);
    this.memberships = new MembershipService(data, this.users, links, clock);
    this.sessions = new SessionService(data, this.users, loginThrottle, clock);
    this.audit = new AuditLog(data.read);

    this.usage = new UsageRecorder(data, 5000, (err) => logger?.warn({ err }, 'could not record client usage'), { clock });
    this.signer = new JwsSigner(config.signingThreads, (err) => logger?.error({ err }, 'a signer thread failed; signing on the main thread instead'));
    this.refreshTokens = new RefreshTokenService(data, clock, { absoluteTtlSeconds: config.refreshTokenTtl, idleTtlSeconds: config.refreshTokenIdleTtl });
    this.accessTokens = new AccessTokenVerifier(config.issuer, () => this.signingKeys.ring, clock, data.read);
    const clientThrottle = new FailureThrottle(
      // No per-client_id guard: a secret has 256 random bits, and the client's own stray failures must not lock it out while someone else fails for it.
      { name: 'client-auth', failuresPerKeyFromAddress: config.authFailuresPerClient, failuresPerAddress: config.authFailuresPerIp, windowSeconds: config.authFailureWindow },
      clock,
    );
    const assertions = new ClientAssertionVerifier(config.issuer, (clientId, jti, expiresAt) => data.read.tokenState.claimJti('client_assertion', clientId, jti, expiresAt), clock);
    this.authenticator = new ClientAuthenticator(this.clientSnapshots, hasher, clientThrottle, this.usage, clock, assertions);
    const issuing = {
      issuer: config.issuer,
      defaultTtl: config.accessTokenTtl,
      clock,
      catalog: () => this.catalog.snapshot,
      keys: () => this.signingKeys.ring,
      signer: this.signer,
      refreshTokens: this.refreshTokens,
    };
    const grantTypes = new Map([
      ['client_credentials', clientCredentialsGrant(issuing)],
      ['refresh_token', refreshTokenGrant(issuing)],
    ]);
    this.tokenEndpoint = new TokenEndpoint(this.authenticator, grantTypes);
    this.introspection = new Introspection(config.issuer, this.accessTokens, this.refreshTokens, this.clientSnapshots, () => this.catalog.snapshot);
    this.revocation = new Revocation(this.accessTokens, this.refreshTokens, () => this.catalog.snapshot, managementAudience(config.issuer));
    this.housekeeping = new Housekeeping(
      [
        { what: 'prune expired refresh tokens', run: () => this.refreshTokens.prune() },
        { what: 'prune expired revocations', run: () => this.accessTokens.prune() },
        { what: 'prune expired assertion and proof ids', run: () => data.read.tokenState.pruneUsedJtis(clock.now()) },
        { what: 'prune old changes', run: () => this.feed.prune() },
        { what: 'vacuum the embedded database', run: () => store.maintain() },
      ],
      logger,
    );
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
    try {
      const runtime = new Runtime(config, store, opts.clock ?? systemClock, master.key, opts.logger);
      // Listening before anything is loaded: a change made while the caches load is announced.
      await runtime.feed.start();
      await runtime.catalog.load();
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
      runtime.housekeeping.start();
      return runtime;
    } catch (err) {
      if (!opts.store) await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.housekeeping.stop();
    await this.usage.stop();
    await this.signer.close();
    this.mailer?.close();
    await this.store.close();
  }
}
