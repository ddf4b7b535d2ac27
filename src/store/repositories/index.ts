import type { Kysely } from 'kysely';
import type { Executor } from '../executor.js';
import type { Database } from '../schema.js';
import { AuditRepository } from './audit.js';
import { CatalogRepository } from './catalog.js';
import { ChangeRepository } from './changes.js';
import { ClientSecretRepository } from './client-secrets.js';
import { ClientRepository } from './clients.js';
import { OrganizationRepository } from './organizations.js';
import { PolicyRepository } from './policies.js';
import { SigningKeyRepository } from './signing-keys.js';
import { TokenPathRepository } from './token-path.js';
import { TokenStateRepository } from './token-state.js';
import { UsageRepository } from './usage.js';
import { UserRepository } from './users.js';

/**
 * Every repository, bound to one executor: the pool (`Data.read`) or a transaction (`Tx`).
 * The only way the domain reaches the database: no file outside src/store builds SQL.
 */
export class Repositories {
  readonly clients: ClientRepository;
  readonly clientSecrets: ClientSecretRepository;
  readonly tokenPath: TokenPathRepository;
  readonly tokenState: TokenStateRepository;
  readonly catalog: CatalogRepository;
  readonly organizations: OrganizationRepository;
  readonly users: UserRepository;
  readonly audit: AuditRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly changes: ChangeRepository;
  readonly usage: UsageRepository;
  readonly policies: PolicyRepository;

  constructor(db: Executor) {
    this.clients = new ClientRepository(db);
    this.clientSecrets = new ClientSecretRepository(db);
    this.tokenPath = new TokenPathRepository(db);
    this.tokenState = new TokenStateRepository(db);
    this.catalog = new CatalogRepository(db);
    this.organizations = new OrganizationRepository(db);
    this.users = new UserRepository(db);
    this.audit = new AuditRepository(db);
    this.signingKeys = new SigningKeyRepository(db);
    this.changes = new ChangeRepository(db);
    this.usage = new UsageRepository(db);
    this.policies = new PolicyRepository(db);
  }
}

/** The repositories of one transaction, and what is to run once it has committed. */
export class Tx extends Repositories {
  private readonly committed: (() => void | Promise<void>)[] = [];

  /** Runs `work` after the transaction commits (never if it rolls back). */
  afterCommit(work: () => void | Promise<void>): void {
    this.committed.push(work);
  }

  /** @internal the store's transaction runner calls this after COMMIT. */
  async runAfterCommit(): Promise<void> {
    for (const work of this.committed) await work();
  }
}

/** What a domain service holds: repositories on the pool, and transactions. */
export interface Data {
  readonly read: Repositories;
  /** Runs `work` in one transaction; its after-commit work runs once it has committed. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

export function dataOf(db: Kysely<Database>): Data {
  return {
    read: new Repositories(db),
    async transaction(work) {
      const txs: Tx[] = [];
      const result = await db.transaction().execute((trx) => {
        const tx = new Tx(trx);
        txs.push(tx);
        return work(tx);
      });
      for (const tx of txs) await tx.runAfterCommit();
      return result;
    },
  };
}
