import type { Logger } from 'pino';
import { CatalogService } from './catalog/catalog-service.js';
import { loadCatalog, type CatalogSnapshot } from './catalog/catalog.js';
import { ClientService } from './clients/client-service.js';
import { GrantCache } from './clients/grant-cache.js';
import { SecretHasher } from './clients/secret.js';
import { UsageRecorder } from './clients/usage-recorder.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { KeyRing } from './keys/key-ring.js';
import { deriveKey, resolveMasterKey } from './keys/master-key.js';
import { createSigningKey, ensureSigningKey, loadSigningKeys } from './keys/signing-keys.js';
import { FailureThrottle } from './throttle/failure-throttle.js';
import { ClientAuthenticator } from './oauth/client-authenticator.js';
import { clientCredentialsGrant } from './oauth/grants/client-credentials.js';
import { refreshTokenGrant } from './oauth/grants/refresh-token.js';
import { RefreshTokenService } from './tokens/refresh-tokens.js';
import { AccessTokenVerifier } from './tokens/access-token-verifier.js';
import { JwsSigner } from './tokens/jws-signer.js';
import { Introspection } from './oauth/introspection.js';
import { Revocation } from './oauth/revocation.js';
import { managementAudience } from './catalog/management-api.js';
import { TokenEndpoint } from './oauth/token-endpoint.js';
import { applyCatalogFile, readCatalogFile } from './catalog/catalog-file.js';
import { ensureManagementApi } from './catalog/management-api.js';
import { MembershipService } from './orgs/membership-service.js';
import { OrganizationService } from './orgs/organization-service.js';
import { SessionService } from './orgs/session-service.js';
import { UserService } from './orgs/user-service.js';
import { CHANGES_CHANNEL, decodeChange, type Change } from './store/changes.js';
import { openStore, type Store } from './store/connect.js';

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** An open store to use instead of opening one from the config (tests). */
  store?: Store;
}

/**
 * Everything a running Portcullis holds: the store, the in-memory views the token
 * path reads (catalog, signing keys, client grants), and the domain services that
 * change them. HTTP is built on top of this (server.ts); the CLI uses it directly.
 */
export class Runtime {
  readonly clients: ClientService;
  readonly catalogService: CatalogService;
  readonly organizations: OrganizationService;
  readonly users: UserService;
  readonly memberships: MembershipService;
  readonly sessions: SessionService;
  readonly tokenEndpoint: TokenEndpoint;
  readonly grants: GrantCache;
  readonly refreshTokens: RefreshTokenService;
  readonly accessTokens: AccessTokenVerifier;
  readonly authenticator: ClientAuthenticator;
  readonly introspection: Introspection;
  readonly revocation: Revocation;
  private housekeeping: NodeJS.Timeout | undefined;
  readonly usage: UsageRecorder;
  readonly signer: JwsSigner;
  private catalogSnapshot!: CatalogSnapshot;
  private keyRing!: KeyRing;
  /** Reloads run one after another, so an older read never overwrites a newer one. */
  private reloads: Promise<void> = Promise.resolve();

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly clock: Clock,
    private readonly kek: Buffer,
    hasher: SecretHasher,
    private readonly logger: Pick<Logger, 'info' | 'warn' | 'error'> | undefined,
  ) {
    const onChange = (change: Change) => this.applyChange(change);
    this.grants = new GrantCache(store.db, config.grantCacheSize);
    this.usage = new UsageRecorder(store.db, 5000, (err) => logger?.warn({ err }, 'could not record client usage'));
    this.clients = new ClientService(store.db, hasher, clock, onChange);
    this.catalogService = new CatalogService(store.db, onChange);
    this.organizations = new OrganizationService(store.db, clock, onChange);
    this.users = new UserService(store.db, clock, config.issuer);
    this.memberships = new MembershipService(store.db, this.users, clock);
    this.sessions = new SessionService(
      store.db,
      this.users,
      new FailureThrottle({ name: 'login', failuresPerKey: 10, failuresPerIp: config.authFailuresPerIp, windowSeconds: config.authFailureWindow }),
      clock,
    );
    const throttle = new FailureThrottle({
      name: 'client-auth',
      failuresPerKey: config.authFailuresPerClient,
      failuresPerIp: config.authFailuresPerIp,
      windowSeconds: config.authFailureWindow,
    });
    const authenticator = new ClientAuthenticator(this.grants, hasher, throttle, this.usage, clock);
    this.authenticator = authenticator;
    this.refreshTokens = new RefreshTokenService(store.db, clock, { absoluteTtlSeconds: config.refreshTokenTtl, idleTtlSeconds: config.refreshTokenIdleTtl });
    this.signer = new JwsSigner(config.signingThreads, (err) => logger?.error({ err }, 'a signer thread failed; signing on the main thread instead'));
    const issuing = {
      issuer: config.issuer,
      defaultTtl: config.accessTokenTtl,
      clock,
      catalog: () => this.catalogSnapshot,
      keys: () => this.keyRing,
      signer: this.signer,
      refreshTokens: this.refreshTokens,
    };
    const grants = new Map([
      ['client_credentials', clientCredentialsGrant(issuing)],
      ['refresh_token', refreshTokenGrant(issuing)],
    ]);
    this.tokenEndpoint = new TokenEndpoint(authenticator, grants);
    this.accessTokens = new AccessTokenVerifier(config.issuer, () => this.keyRing, clock, store.db);
    this.introspection = new Introspection(config.issuer, this.accessTokens, this.refreshTokens, this.grants, () => this.catalogSnapshot);
    this.revocation = new Revocation(this.accessTokens, this.refreshTokens, () => this.catalogSnapshot, managementAudience(config.issuer));
  }

  static async start(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
    const master = resolveMasterKey(config);
    if (master.generated) opts.logger?.warn(`generated a master key in ${config.dataDir}/master.key: back it up; without it the signing keys cannot be read`);
    const store = opts.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, sharedBuffersMb: config.embeddedSharedBuffersMb }));
    try {
      const runtime = new Runtime(config, store, opts.clock ?? systemClock, deriveKey(master.key, 'signing-key-encryption'), new SecretHasher(deriveKey(master.key, 'client-secret-pepper')), opts.logger);
      if (await ensureSigningKey(store.db, runtime.kek, config.signingAlg, runtime.clock.now())) opts.logger?.info(`generated the first ${config.signingAlg} signing key`);
      await runtime.reloadCatalog();
      await ensureManagementApi(store.db, runtime.catalogService, config.issuer);
      if (config.catalogFile) {
        const result = await applyCatalogFile(runtime.catalogService, readCatalogFile(config.catalogFile), { type: 'system', id: 'CATALOG_FILE' });
        opts.logger?.info(`applied ${config.catalogFile}: ${result.created} created, ${result.updated} updated`);
      }
      await runtime.reloadKeys();
      if (config.adminEmail && config.adminPassword) {
        const admin = await runtime.users.ensureAdmin(config.adminEmail, config.adminPassword);
        if (admin) opts.logger?.info(`created the platform administrator ${admin.email} (ADMIN_EMAIL)`);
      }
      await store.listen(
        CHANGES_CHANNEL,
        (payload) => {
          const change = decodeChange(payload);
          if (change) void runtime.applyChange(change);
        },
        () => void runtime.resync(),
      );
      runtime.usage.start();
      runtime.housekeeping = setInterval(() => void runtime.housekeep(), 3600_000).unref();
      return runtime;
    } catch (err) {
      if (!opts.store) await store.close();
      throw err;
    }
  }

  /** With no users yet, a one-time link to create the first platform administrator (printed at start). */
  async setupLink(): Promise<string | undefined> {
    const token = await this.users.issueSetupToken();
    return token ? `${this.config.issuer}/setup?token=${token}` : undefined;
  }

  get catalog(): CatalogSnapshot {
    return this.catalogSnapshot;
  }

  get keys(): KeyRing {
    return this.keyRing;
  }

  /** Publishes a new signing key that starts signing after `activationDelaySeconds` (`portcullis keys rotate`). */
  async rotateSigningKey(activationDelaySeconds: number, alg = this.config.signingAlg) {
    const key = await createSigningKey(this.store.db, this.kek, alg, new Date(this.clock.now().getTime() + activationDelaySeconds * 1000));
    await this.reloadKeys();
    return key;
  }

  /** Brings this process's caches up to date after a change made here or, via NOTIFY, anywhere. */
  async applyChange(change: Change): Promise<void> {
    try {
      if (change.kind === 'client') this.grants.evict(change.clientId);
      else if (change.kind === 'catalog') await this.reloadCatalog();
      else await this.reloadKeys();
    } catch (err) {
      this.logger?.error({ err, change }, 'could not apply a change notice');
    }
  }

  /** Hourly: forgets refresh tokens and revocations that have expired anyway, then the database's own housekeeping. */
  async housekeep(): Promise<void> {
    await this.pruneExpired();
    try {
      await this.store.maintain();
    } catch (err) {
      this.logger?.warn({ err }, 'could not vacuum the embedded database');
    }
  }

  /** Forgets refresh tokens and access-token revocations that have expired anyway. */
  async pruneExpired(): Promise<void> {
    try {
      await this.refreshTokens.prune();
      await this.accessTokens.prune();
    } catch (err) {
      this.logger?.warn({ err }, 'could not prune expired tokens');
    }
  }

  async close(): Promise<void> {
    if (this.housekeeping) clearInterval(this.housekeeping);
    await this.usage.stop();
    await this.signer.close();
    await this.store.close();
  }

  /** After a lost LISTEN connection notices may have been missed: forget and reload everything. */
  private async resync(): Promise<void> {
    this.grants.clear();
    await this.applyChange({ kind: 'catalog' });
    await this.applyChange({ kind: 'keys' });
  }

  private reloadCatalog(): Promise<void> {
    return this.serialized(async () => {
      this.catalogSnapshot = await loadCatalog(this.store.db);
      if (this.keyRing) this.keyRing = new KeyRing([...this.keyRing.all()], this.catalogSnapshot.maxTokenTtl(this.config.accessTokenTtl));
    });
  }

  private reloadKeys(): Promise<void> {
    return this.serialized(async () => {
      const keys = await loadSigningKeys(this.store.db, this.kek);
      this.keyRing = new KeyRing(keys, this.catalogSnapshot.maxTokenTtl(this.config.accessTokenTtl));
    });
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const next = this.reloads.then(work);
    this.reloads = next.catch(() => {});
    return next;
  }
}
