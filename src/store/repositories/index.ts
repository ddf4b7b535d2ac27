import { AsyncLocalStorage } from 'node:async_hooks';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { sql, type ControlledTransaction, type Kysely } from 'kysely';
import type { Executor } from '../executor.js';
import type { Database } from '../schema.js';
import { AuditRepository } from './audit.js';
import { CatalogRepository } from './catalog.js';
import { ChangeRepository } from './changes.js';
import { ClientSecretRepository } from './client-secrets.js';
import { ClientRepository } from './clients.js';
import { IdempotencyRepository } from './idempotency.js';
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
  readonly idempotency: IdempotencyRepository;

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
    this.idempotency = new IdempotencyRepository(db);
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

/**
 * A transaction held open across the handling of one request (src/idempotency/): everything
 * `run` starts, every `Data.transaction` and every `Data.read` of any service, joins it, so
 * the change a request makes and whatever is written last (its stored answer) commit together.
 */
export interface HeldTransaction {
  readonly tx: Tx;
  /** True until `commit` or `rollback`. */
  readonly open: boolean;
  run<T>(work: () => T): T;
  /** Commits, then runs the after-commit work of every transaction that joined. */
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** What a domain service holds: repositories on the pool, and transactions. */
export interface Data {
  readonly read: Repositories;
  /** Runs `work` in one transaction; its after-commit work runs once it has committed. Inside a held transaction: a savepoint of it. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Begins a transaction that stays open until its `commit` or `rollback`. */
  hold(): Promise<HeldTransaction>;
}

interface Held {
  trx: ControlledTransaction<Database>;
  open: boolean;
  /** The held transaction's own Tx and each joined one, whose after-commit work waits for the real commit. */
  joined: Tx[];
  savepoints: number;
}

/** The held transaction of the request whose work is running, if any. */
const heldScope = new AsyncLocalStorage<Held>();
/**
 * Held transactions not yet ended. On Node 20 a used AsyncLocalStorage keeps async hooks on for
 * every promise of the process; disabled again when none is held, the token path pays nothing
 * for this while no idempotent request is in flight.
 */
let holding = 0;
function released(): void {
  if (--holding === 0) heldScope.disable();
}

/**
 * `tracing.tracer`, read at each transaction, is set when tracing is on (the store is opened
 * before the runtime that knows): each transaction is then a `db.transaction` span, whose
 * parent is the request's span.
 */
export function dataOf(db: Kysely<Database>, tracing: { readonly tracer?: Tracer | undefined } = {}): Data {
  // Reads go to the held transaction while one is open in this async context: on the embedded
  // database (one connection) a read on the pool would wait for that transaction forever, and on
  // PostgreSQL it would not see the request's own writes.
  const reading = new Proxy(db, {
    get(target, prop) {
      const held = heldScope.getStore();
      const executor: Kysely<Database> = held?.open ? held.trx : target;
      const value: unknown = Reflect.get(executor, prop, executor);
      return typeof value === 'function' ? value.bind(executor) : value;
    },
  });
  const run = async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
    const held = heldScope.getStore();
    if (held?.open) return joined(held, work);
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
    read: new Repositories(reading),
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
    async hold() {
      const trx = await db.startTransaction().execute();
      const held: Held = { trx, open: true, joined: [new Tx(trx)], savepoints: 0 };
      holding++;
      return {
        tx: held.joined[0] as Tx,
        get open() {
          return held.open;
        },
        run: (work) => heldScope.run(held, work),
        async commit() {
          if (!held.open) throw new Error('the held transaction has ended');
          held.open = false;
          try {
            await trx.commit().execute();
          } finally {
            released();
          }
          for (const tx of held.joined) await tx.runAfterCommit();
        },
        async rollback() {
          if (!held.open) return;
          held.open = false;
          try {
            await trx.rollback().execute();
          } finally {
            released();
          }
        },
      };
    },
  };
}

/** A service's transaction inside a held one: a savepoint, so a failure it handles undoes only its own work. */
async function joined<T>(held: Held, work: (tx: Tx) => Promise<T>): Promise<T> {
  const savepoint = sql.raw(`joined_${++held.savepoints}`);
  await sql`savepoint ${savepoint}`.execute(held.trx);
  const tx = new Tx(held.trx);
  try {
    const result = await work(tx);
    await sql`release savepoint ${savepoint}`.execute(held.trx);
    held.joined.push(tx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint ${savepoint}`.execute(held.trx).catch(() => {});
    throw err;
  }
}
