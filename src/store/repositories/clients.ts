import { sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Client } from '../../wire/management.js';
import type { Executor } from '../executor.js';
import type { PublicJwk } from '../schema.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../pagination.js';

/**
 * Organization clients and their role assignments. Every method takes the organization
 * first and touches nothing of another organization's.
 */
export class ClientRepository {
  constructor(private readonly db: Executor) {}

  /** Newest first (index clients_org_created_idx). */
  async list(orgId: string, page: PageRequest): Promise<Page<Client>> {
    const rows = await newestFirst(this.select().where('clients.org_id', '=', orgId), page, 'clients.created_at', 'clients.client_id').execute();
    return toPage(rows.map(toClient), page.limit, (c) => ({ at: c.created_at, id: c.client_id }));
  }

  /** By primary key, checked against the organization. */
  async find(orgId: string, clientId: string): Promise<Client | undefined> {
    const row = await this.select().where('clients.org_id', '=', orgId).where('clients.client_id', '=', clientId).executeTakeFirst();
    return row ? toClient(row) : undefined;
  }

  /** Locks the client's row until the transaction ends (two rotations at once must not both keep a previous secret). */
  async lock(orgId: string, clientId: string): Promise<boolean> {
    const row = await this.db.selectFrom('clients').select('client_id').where('org_id', '=', orgId).where('client_id', '=', clientId).forUpdate().executeTakeFirst();
    return row !== undefined;
  }

  /** The organization's client ids (index clients_org_created_idx), e.g. to announce their removal. */
  async idsOf(orgId: string): Promise<string[]> {
    return (await this.db.selectFrom('clients').select('client_id').where('org_id', '=', orgId).execute()).map((r) => r.client_id);
  }

  async insert(orgId: string, client: { clientId: string; name: string; refreshTokens: boolean; requireDpop: boolean; jwks: PublicJwk[]; now: Date }): Promise<void> {
    await this.db
      .insertInto('clients')
      .values({
        client_id: client.clientId,
        org_id: orgId,
        name: client.name,
        refresh_tokens: client.refreshTokens,
        require_dpop: client.requireDpop,
        jwks: JSON.stringify(client.jwks),
        created_at: client.now,
        updated_at: client.now,
      })
      .execute();
  }

  /** Sets the given fields and `updated_at` (by primary key). */
  async update(
    orgId: string,
    clientId: string,
    patch: { name?: string | undefined; refreshTokens?: boolean | undefined; requireDpop?: boolean | undefined; jwks?: PublicJwk[] | undefined; updatedAt: Date },
  ): Promise<void> {
    await this.db
      .updateTable('clients')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.refreshTokens !== undefined ? { refresh_tokens: patch.refreshTokens } : {}),
        ...(patch.requireDpop !== undefined ? { require_dpop: patch.requireDpop } : {}),
        ...(patch.jwks !== undefined ? { jwks: JSON.stringify(patch.jwks) } : {}),
        updated_at: patch.updatedAt,
      })
      .where('org_id', '=', orgId)
      .where('client_id', '=', clientId)
      .execute();
  }

  /** Replaces the client's roles (primary key of client_roles). */
  async setRoles(orgId: string, clientId: string, roleIds: readonly string[]): Promise<void> {
    await this.db
      .deleteFrom('client_roles')
      .where('client_id', 'in', ofOrg(this.db, orgId, clientId))
      .execute();
    if (roleIds.length === 0) return;
    // Inserted from the client's row, so a client of another organization gets no roles.
    await this.db
      .insertInto('client_roles')
      .columns(['client_id', 'role_id'])
      .expression(ofOrg(this.db, orgId, clientId).select(sql<string>`unnest(${[...roleIds]}::text[])`.as('role_id')))
      .execute();
  }

  /** Deletes the client; its roles, secrets and refresh tokens go with it (foreign keys cascade). */
  async delete(orgId: string, clientId: string): Promise<void> {
    await this.db.deleteFrom('clients').where('org_id', '=', orgId).where('client_id', '=', clientId).execute();
  }

  private select() {
    return this.db
      .selectFrom('clients')
      .selectAll('clients')
      .select((eb) => [
        jsonArrayFrom(
          eb
            .selectFrom('client_roles')
            .innerJoin('roles', 'roles.id', 'client_roles.role_id')
            .select(['roles.id', 'roles.name'])
            .whereRef('client_roles.client_id', '=', 'clients.client_id')
            .orderBy('roles.id'),
        ).as('roles'),
        // The current secret's hint (index client_secrets_client_idx).
        eb
          .selectFrom('client_secrets')
          .select('client_secrets.hint')
          .whereRef('client_secrets.client_id', '=', 'clients.client_id')
          .where('client_secrets.expires_at', 'is', null)
          .orderBy('client_secrets.created_at', 'desc')
          .limit(1)
          .as('secret_hint'),
      ]);
  }
}

/** `clientId` if it is `orgId`'s, as a subquery: scopes writes to tables that hold no org_id. */
export function ofOrg(db: Executor, orgId: string, clientId: string) {
  return db.selectFrom('clients').select('clients.client_id').where('clients.org_id', '=', orgId).where('clients.client_id', '=', clientId);
}

function toClient(row: {
  client_id: string;
  org_id: string;
  name: string;
  refresh_tokens: boolean;
  require_dpop: boolean;
  jwks: PublicJwk[];
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
  roles: { id: string; name: string }[];
  secret_hint: string | null;
}): Client {
  return {
    client_id: row.client_id,
    name: row.name,
    organization_id: row.org_id,
    roles: row.roles,
    secret_hint: row.secret_hint,
    refresh_tokens: row.refresh_tokens,
    require_dpop: row.require_dpop,
    jwks: { keys: row.jwks },
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_used_at: row.last_used_at,
  };
}
