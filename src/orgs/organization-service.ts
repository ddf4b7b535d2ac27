import type { Kysely } from 'kysely';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import { NotFound } from '../errors/api-error.js';
import { newId } from '../ids.js';
import type { Database } from '../store/schema.js';

export interface Organization {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

/** Organizations: the tenancy boundary. Their members and users come with the management API. */
export class OrganizationService {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: { name: string }, actor: Actor): Promise<Organization> {
    return this.db.transaction().execute(async (trx) => {
      const id = newId('org');
      const org = await trx.insertInto('organizations').values({ id, name: input.name }).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { orgId: id, action: 'organization.created', target: { type: 'organization', id }, details: { name: input.name } });
      return org;
    });
  }

  async get(id: string): Promise<Organization> {
    const org = await this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    if (!org) throw new NotFound('Organization');
    return org;
  }

  async list(): Promise<Organization[]> {
    return this.db.selectFrom('organizations').selectAll().orderBy('name').execute();
  }
}
