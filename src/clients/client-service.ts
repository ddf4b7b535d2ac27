import type { Kysely, Transaction } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import { diff } from '../audit/diff.js';
import type { Clock } from '../clock.js';
import { InvalidRequest, NotFound, type ErrorDetail } from '../errors/api-error.js';
import { newClientId, newId } from '../ids.js';
import { notifyChange, type Change } from '../store/changes.js';
import type { Database } from '../store/schema.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../store/pagination.js';
import { generateSecret, secretHint, type SecretHasher } from './secret.js';

/** An organization client as administrators see it (API.md §3 "Client"). Never carries a secret. */
export interface Client {
  client_id: string;
  name: string;
  organization_id: string;
  roles: { id: string; name: string }[];
  secret_hint: string;
  refresh_tokens: boolean;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
}

export interface NewClient {
  name: string;
  roles: string[];
  refresh_tokens?: boolean | undefined;
}

export interface RotatedSecret {
  client_secret: string;
  secret_hint: string;
  previous_secret_expires_at: Date | null;
}

type Db = Kysely<Database>;

/**
 * Organization clients and their secrets. Every method takes the organization id first:
 * a client of another organization is simply not found (ARCHITECTURE.md, "Tenancy").
 * Each change is one transaction with its audit event and a change notice (for other
 * processes), and is handed to `onChange` (this process's caches) once it has committed.
 */
export class ClientService {
  constructor(
    private readonly db: Db,
    private readonly hasher: SecretHasher,
    private readonly clock: Clock,
    private readonly onChange: (change: Change) => Promise<void> | void = () => {},
  ) {}

  async list(orgId: string, page: PageRequest): Promise<Page<Client>> {
    const rows = await newestFirst(selectClients(this.db).where('clients.org_id', '=', orgId), page, 'clients.created_at', 'clients.client_id').execute();
    return toPage(rows.map(toClient), page.limit, (c) => ({ at: c.created_at, id: c.client_id }));
  }

  async get(orgId: string, clientId: string): Promise<Client> {
    return readClient(this.db, orgId, clientId);
  }

  /** Creates a client and its first secret; the plain secret is in this answer and nowhere else. */
  async create(orgId: string, input: NewClient, actor: Actor): Promise<{ client: Client; client_secret: string }> {
    const secret = generateSecret();
    const client = await this.db.transaction().execute(async (trx) => {
      const org = await trx.selectFrom('organizations').select('id').where('id', '=', orgId).executeTakeFirst();
      if (!org) throw new NotFound('Organization');
      const roles = await assignableRoles(trx, input.roles);
      const clientId = newClientId();
      const now = this.clock.now();
      await trx
        .insertInto('clients')
        .values({ client_id: clientId, org_id: orgId, name: input.name, refresh_tokens: input.refresh_tokens ?? false, created_at: now, updated_at: now })
        .execute();
      if (roles.length > 0) await trx.insertInto('client_roles').values(roles.map((role_id) => ({ client_id: clientId, role_id }))).execute();
      await this.insertSecret(trx, clientId, secret, now);
      await recordAudit(trx, actor, {
        orgId,
        action: 'client.created',
        target: { type: 'client', id: clientId },
        details: { name: input.name, roles, refresh_tokens: input.refresh_tokens ?? false },
      });
      return readClient(trx, orgId, clientId);
    });
    return { client, client_secret: secret };
  }

  async update(orgId: string, clientId: string, patch: { name?: string | undefined; refresh_tokens?: boolean | undefined }, actor: Actor): Promise<Client> {
    return this.change(orgId, clientId, actor, 'client.updated', async (trx) => {
      await trx
        .updateTable('clients')
        .set({
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.refresh_tokens !== undefined ? { refresh_tokens: patch.refresh_tokens } : {}),
          updated_at: this.clock.now(),
        })
        .where('org_id', '=', orgId)
        .where('client_id', '=', clientId)
        .execute();
    });
  }

  /** Replaces the client's roles; tokens issued from now on carry the new permissions. */
  async setRoles(orgId: string, clientId: string, roleIds: string[], actor: Actor): Promise<Client> {
    return this.change(orgId, clientId, actor, 'client.roles_changed', async (trx) => {
      const roles = await assignableRoles(trx, roleIds);
      await trx.deleteFrom('client_roles').where('client_id', '=', clientId).execute();
      if (roles.length > 0) await trx.insertInto('client_roles').values(roles.map((role_id) => ({ client_id: clientId, role_id }))).execute();
      await trx.updateTable('clients').set({ updated_at: this.clock.now() }).where('client_id', '=', clientId).execute();
    });
  }

  /**
   * Issues a new secret. With `gracePeriodSeconds` 0 the old secret fails at once; otherwise
   * it keeps working until then. A client has at most two secrets: an older previous secret
   * still in its grace period is dropped by a second rotation.
   */
  async rotateSecret(orgId: string, clientId: string, opts: { gracePeriodSeconds: number }, actor: Actor): Promise<RotatedSecret> {
    const secret = generateSecret();
    const now = this.clock.now();
    const previousExpiresAt = opts.gracePeriodSeconds > 0 ? new Date(now.getTime() + opts.gracePeriodSeconds * 1000) : null;
    await this.change(orgId, clientId, actor, 'client.secret_rotated', async (trx) => {
      await trx.deleteFrom('client_secrets').where('client_id', '=', clientId).where('expires_at', 'is not', null).execute();
      if (previousExpiresAt) {
        await trx.updateTable('client_secrets').set({ expires_at: previousExpiresAt }).where('client_id', '=', clientId).execute();
      } else {
        await trx.deleteFrom('client_secrets').where('client_id', '=', clientId).execute();
      }
      await this.insertSecret(trx, clientId, secret, now);
      await trx.updateTable('clients').set({ updated_at: now }).where('client_id', '=', clientId).execute();
      return { grace_period_seconds: opts.gracePeriodSeconds, secret_hint: secretHint(secret) };
    });
    return { client_secret: secret, secret_hint: secretHint(secret), previous_secret_expires_at: previousExpiresAt };
  }

  /** Deletes the client; its secrets go with it (cascade) and every process forgets its grant. */
  async delete(orgId: string, clientId: string, actor: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await readClient(trx, orgId, clientId);
      await trx.deleteFrom('clients').where('org_id', '=', orgId).where('client_id', '=', clientId).execute();
      await recordAudit(trx, actor, { orgId, action: 'client.deleted', target: { type: 'client', id: clientId }, details: { name: before.name } });
      await notifyChange(trx, { kind: 'client', clientId });
    });
    await this.onChange({ kind: 'client', clientId });
  }

  /** One change to an existing client: check it is this organization's, apply, audit with a diff, notify. */
  private async change(
    orgId: string,
    clientId: string,
    actor: Actor,
    action: string,
    apply: (trx: Transaction<Database>) => Promise<Record<string, unknown> | void>,
  ): Promise<Client> {
    const after = await this.db.transaction().execute(async (trx) => {
      const before = await readClient(trx, orgId, clientId, { forUpdate: true });
      const extra = await apply(trx);
      const after = await readClient(trx, orgId, clientId);
      await recordAudit(trx, actor, {
        orgId,
        action,
        target: { type: 'client', id: clientId },
        details: { ...diff(before, after, ['name', 'refresh_tokens', 'roles']), ...(extra ?? {}) },
      });
      await notifyChange(trx, { kind: 'client', clientId });
      return after;
    });
    await this.onChange({ kind: 'client', clientId });
    return after;
  }

  private async insertSecret(trx: Transaction<Database>, clientId: string, secret: string, now: Date): Promise<void> {
    await trx
      .insertInto('client_secrets')
      .values({ id: newId('sec'), client_id: clientId, hash: this.hasher.hash(secret), hint: secretHint(secret), created_at: now })
      .execute();
  }
}

function selectClients(db: Db) {
  return db
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

async function readClient(db: Db, orgId: string, clientId: string, opts: { forUpdate?: boolean } = {}): Promise<Client> {
  if (opts.forUpdate) {
    // Serialize concurrent changes to one client (two rotations at once must not both keep a previous secret).
    const locked = await db.selectFrom('clients').select('client_id').where('org_id', '=', orgId).where('client_id', '=', clientId).forUpdate().executeTakeFirst();
    if (!locked) throw new NotFound('Client');
  }
  const row = await selectClients(db).where('clients.org_id', '=', orgId).where('clients.client_id', '=', clientId).executeTakeFirst();
  if (!row) throw new NotFound('Client');
  return toClient(row);
}

function toClient(row: {
  client_id: string;
  org_id: string;
  name: string;
  refresh_tokens: boolean;
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
    secret_hint: row.secret_hint ?? '',
    refresh_tokens: row.refresh_tokens,
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_used_at: row.last_used_at,
  };
}

/** The given role ids, deduplicated, after checking each exists; unknown ones are named in `details`. */
async function assignableRoles(db: Db, roleIds: string[]): Promise<string[]> {
  const wanted = [...new Set(roleIds)];
  if (wanted.length === 0) return [];
  const found = new Set((await db.selectFrom('roles').select('id').where('id', 'in', wanted).execute()).map((r) => r.id));
  const details: ErrorDetail[] = [];
  roleIds.forEach((id, i) => {
    if (!found.has(id)) details.push({ field: `/body/roles/${i}`, message: `no role "${id}"` });
  });
  if (details.length > 0) throw new InvalidRequest('Unknown roles.', details);
  return wanted;
}
