import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** What a repository runs its statements on: the pool, or one transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;
