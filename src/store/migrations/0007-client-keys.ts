import { sql, type Kysely } from 'kysely';

/**
 * Client keys and DPoP (docs/http-api.md §2):
 * - `clients.jwks`: the public keys a client signs its `private_key_jwt` assertions with
 *   (RFC 7523 §2.2), as a JSON array of public JWKs; an empty array when it has none.
 *   A client without a secret is simply one with no `client_secrets` row.
 * - `clients.require_dpop`: token requests of this client must carry a DPoP proof (RFC 9449).
 * - `used_jtis`: the `jti` of every accepted client assertion (owner: the client id) and DPoP
 *   proof (owner: the proof key's RFC 7638 thumbprint), until it could no longer be accepted
 *   anyway; the primary key makes a replay fail on every node at once (INSERT … ON CONFLICT DO NOTHING).
 * - `refresh_tokens.jkt`: the DPoP key a refresh-token family is bound to (RFC 9449 §5), or null.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('clients')
    .addColumn('jwks', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('require_dpop', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();

  await db.schema
    .createTable('used_jtis')
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('client_assertion', 'dpop_proof')`))
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('jti', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('used_jtis_pk', ['kind', 'owner', 'jti'])
    .execute();
  // Housekeeping drops what has expired.
  await db.schema.createIndex('used_jtis_expires_idx').on('used_jtis').column('expires_at').execute();

  await db.schema.alterTable('refresh_tokens').addColumn('jkt', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').dropColumn('jkt').execute();
  await db.schema.dropTable('used_jtis').ifExists().execute();
  await db.schema.alterTable('clients').dropColumn('require_dpop').dropColumn('jwks').execute();
}
