import { sql, type Kysely } from 'kysely';

/**
 * Usage, quotas and organization policy (docs/usage-and-quotas.md).
 *
 * - `usage_counts`: tokens issued, redundant tokens and failed token requests per organization,
 *   client, API (its identifier; '' when the request named none we know) and UTC hour. Every
 *   process adds its in-memory counts in batches (`count = count + excluded.count`), so the
 *   database sums processes and nodes. No foreign key to clients: a deleted client's usage
 *   stays billable; the organization's deletion takes it along.
 * - `quota_counts`: each node's own count of tokens per quota key and window, written as an
 *   absolute value every few seconds, so the nodes learn each other's counts (usage/quota-sync.ts).
 * - `organization_policies`: one row per organization that has a policy; no row = no limits.
 * - clients gain `token_claims` and `token_quota_*`; secrets gain `retire_when_unused_seconds`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('usage_counts')
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('api', 'text', (c) => c.notNull())
    .addColumn('hour', 'timestamptz', (c) => c.notNull())
    // 'issued', 'redundant', or the OAuth error code of a failed request.
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('count', 'int8', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_counts_pk', ['org_id', 'client_id', 'api', 'hour', 'outcome'])
    .execute();
  // The organization's usage by time (the primary key serves a client's).
  await db.schema.createIndex('usage_counts_org_hour_idx').on('usage_counts').columns(['org_id', 'hour']).execute();
  // Housekeeping prunes by age across organizations.
  await db.schema.createIndex('usage_counts_hour_idx').on('usage_counts').column('hour').execute();

  await db.schema
    .createTable('quota_counts')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('count', 'int8', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_counts_pk', ['key', 'window_start', 'node_id'])
    .execute();

  await db.schema
    .createTable('organization_policies')
    .addColumn('org_id', 'text', (c) => c.primaryKey().references('organizations.id').onDelete('cascade'))
    .addColumn('assignable_roles', sql`text[]`)
    .addColumn('max_clients', 'integer')
    .addColumn('token_quota_limit', 'integer')
    .addColumn('token_quota_per', 'text', (c) => c.check(sql`token_quota_per in ('hour', 'day')`))
    .addColumn('max_access_token_ttl', 'integer')
    .addColumn('refresh_tokens_allowed', 'boolean', (c) => c.notNull())
    .addColumn('secret_max_age_days', 'integer')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .alterTable('clients')
    .addColumn('token_claims', 'jsonb')
    .addColumn('token_quota_limit', 'integer')
    .addColumn('token_quota_per', 'text', (c) => c.check(sql`token_quota_per in ('hour', 'day')`))
    .execute();
  await db.schema.alterTable('client_secrets').addColumn('retire_when_unused_seconds', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('client_secrets').dropColumn('retire_when_unused_seconds').execute();
  await db.schema.alterTable('clients').dropColumn('token_quota_per').dropColumn('token_quota_limit').dropColumn('token_claims').execute();
  await db.schema.dropTable('organization_policies').execute();
  await db.schema.dropTable('quota_counts').execute();
  await db.schema.dropTable('usage_counts').execute();
}
