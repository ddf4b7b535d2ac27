import { sql, type Kysely } from 'kysely';

/**
 * Invitations (src/orgs/membership-service.ts): adding an email to an organization makes an
 * `invited` membership that grants nothing until the account's owner accepts it with the
 * one-time token sent for that user and that organization. Existing memberships stay active.
 *
 * `users.email_verified` is false for an account whose password was set through a link that
 * was handed to an administrator instead of mailed to the address: nothing shows that the
 * owner of the mailbox chose that password. Before this migration every link was handed to an
 * administrator, so every account whose password came from a link (or that has none yet) starts
 * unverified; accounts created with a password by a platform administrator stay verified.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('memberships')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'invited')`))
    .execute();
  // New rows say what they are: no default after the existing rows are filled.
  await db.schema
    .alterTable('memberships')
    .alterColumn('status', (c) => c.dropDefault())
    .execute();

  await db.schema
    .alterTable('users')
    .addColumn('email_verified', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();
  await db.schema
    .alterTable('users')
    .alterColumn('email_verified', (c) => c.dropDefault())
    .execute();
  await sql`
    update users set email_verified = false
    where password_hash is null
       or exists (select 1 from one_time_tokens t where t.user_id = users.id and t.kind = 'invite' and t.used_at is not null)
  `.execute(db);

  await db.schema
    .alterTable('one_time_tokens')
    // Set: an invitation to this organization; null: a link that only sets the password.
    .addColumn('org_id', 'text', (c) => c.references('organizations.id').onDelete('cascade'))
    // Whether the link went to the address by mail (SMTP_URL) rather than to an administrator.
    .addColumn('mailed', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('one_time_tokens_user_idx').on('one_time_tokens').columns(['user_id', 'org_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('one_time_tokens_user_idx').ifExists().execute();
  await db.schema.alterTable('one_time_tokens').dropColumn('mailed').dropColumn('org_id').execute();
  await db.schema.alterTable('users').dropColumn('email_verified').execute();
  // An invitation nobody accepted must not become a membership.
  await sql`delete from memberships where status = 'invited'`.execute(db);
  await db.schema.alterTable('memberships').dropColumn('status').execute();
}
