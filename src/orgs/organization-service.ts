import type { Kysely } from 'kysely';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import { diff } from '../audit/diff.js';
import { systemClock, type Clock } from '../clock.js';
import { NotFound } from '../errors/api-error.js';
import { newId } from '../ids.js';
import { notifyChange, type Change } from '../store/changes.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../store/pagination.js';
import type { Database } from '../store/schema.js';

export interface Organization {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

/** Organizations: the tenancy boundary. */
export class OrganizationService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock = systemClock,
    private readonly onChange: (change: Change) => Promise<void> | void = () => {},
  ) {}

  async create(input: { name: string }, actor: Actor): Promise<Organization> {
    return this.db.transaction().execute(async (trx) => {
      const id = newId('org');
      const now = this.clock.now();
      const org = await trx.insertInto('organizations').values({ id, name: input.name, created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { orgId: id, action: 'organization.created', target: { type: 'organization', id }, details: { name: input.name } });
      return org;
    });
  }

  async get(id: string): Promise<Organization> {
    const org = await this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    if (!org) throw new NotFound('Organization');
    return org;
  }

  /** All organizations, or with `memberId` only that user's. */
  async list(page: PageRequest, opts: { memberId?: string } = {}): Promise<Page<Organization>> {
    let query = this.db.selectFrom('organizations').selectAll('organizations');
    if (opts.memberId) {
      const memberId = opts.memberId;
      query = query.where('organizations.id', 'in', (eb) => eb.selectFrom('memberships').select('memberships.org_id').where('memberships.user_id', '=', memberId));
    }
    const rows = await newestFirst(query, page, 'organizations.created_at', 'organizations.id').execute();
    return toPage(rows, page.limit, (o) => ({ at: o.created_at, id: o.id }));
  }

  async rename(id: string, name: string, actor: Actor): Promise<Organization> {
    return this.db.transaction().execute(async (trx) => {
      const before = await this.getIn(trx, id);
      const after = await trx.updateTable('organizations').set({ name, updated_at: this.clock.now() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { orgId: id, action: 'organization.updated', target: { type: 'organization', id }, details: diff(before, after, ['name']) });
      return after;
    });
  }

  /** Deletes the organization with its members and clients; every process forgets those clients' grants. */
  async delete(id: string, actor: Actor): Promise<void> {
    const clientIds = await this.db.transaction().execute(async (trx) => {
      const org = await this.getIn(trx, id);
      const clients = await trx.selectFrom('clients').select('client_id').where('org_id', '=', id).execute();
      await trx.deleteFrom('organizations').where('id', '=', id).execute();
      // The organization's own audit trail goes with it (cascade); the platform keeps this record.
      await recordAudit(trx, actor, { orgId: null, action: 'organization.deleted', target: { type: 'organization', id }, details: { name: org.name, clients: clients.length } });
      for (const c of clients) await notifyChange(trx, { kind: 'client', clientId: c.client_id });
      return clients.map((c) => c.client_id);
    });
    for (const clientId of clientIds) await this.onChange({ kind: 'client', clientId });
  }

  private async getIn(db: Kysely<Database>, id: string): Promise<Organization> {
    const org = await db.selectFrom('organizations').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!org) throw new NotFound('Organization');
    return org;
  }
}
