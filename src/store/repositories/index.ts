import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { Executor } from '../executor.js';
import type { Database } from '../schema.js';
import { AuditRepository } from './audit.js';
import { CatalogRepository } from './catalog.js';
import { ChangeRepository } from './changes.js';
import { ClientSecretRepository } from './client-secrets.js';
import { ClientRepository } from './clients.js';
import { OrganizationRepository } from './organizations.js';
import { SigningKeyRepository } from './signing-keys.js';
import { TokenPathRepository } from './token-path.js';
import { TokenStateRepository } from './token-state.js';
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

/**
 * `tracing.tracer`, read at each transaction, is set when tracing is on (the store is opened
 * before the runtime that knows): each transaction is then a `db.transaction` span, whose
 * parent is the request's span.
 */
export function dataOf(db: Kysely<Database>, tracing: { readonly tracer?: Tracer | undefined } = {}): Data {
  const run = async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
    const txs: Tx[] = [];
    const result = await db.transaction().execute((trx) => {
      const tx = new Tx(trx);
      txs.push(tx);
      return work(tx);
    });
    for (const tx of txs) await tx.runAfterCommit();
    return result;
  };
  return {
    read: new Repositories(db),
    transaction(work) {
      const tracer = tracing.tracer;
      if (!tracer) return run(work);
      return tracer.startActiveSpan('db.transaction', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }, async (span) => {
        try {
          return await run(work);
        } catch (err) {
          // The error's name only: a constraint message may quote values.
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
          throw err;
        } finally {
          span.end();
        }
      });
    },
  };
}
