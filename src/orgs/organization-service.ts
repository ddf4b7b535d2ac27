import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import type { Clock } from '../clock.js';
import { NotFoundError } from '../errors/domain-errors.js';
import { newId } from '../ids.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { Page, PageRequest } from '../store/pagination.js';
import type { Data } from '../store/repositories/index.js';
import type { Organization } from '../wire/management.js';

/** Organizations: the tenancy boundary. */
export class OrganizationService {
  constructor(
    private readonly data: Data,
    private readonly feed: ChangeFeed,
    private readonly clock: Clock,
  ) {}

  async create(input: { name: string }, actor: Actor): Promise<Organization> {
    return this.data.transaction(async (tx) => {
      const org = await tx.organizations.insert({ id: newId('org'), name: input.name, now: this.clock.now() });
      await tx.audit.record(org.id, actor, { action: 'organization.created', target: { type: 'organization', id: org.id }, details: { name: input.name } });
      return org;
    });
  }

  async get(orgId: string): Promise<Organization> {
    return found(await this.data.read.organizations.find(orgId));
  }

  /** All organizations, or with `memberId` only that user's. */
  async list(page: PageRequest, opts: { memberId?: string } = {}): Promise<Page<Organization>> {
    return this.data.read.organizations.list(page, opts);
  }

  async rename(orgId: string, name: string, actor: Actor): Promise<Organization> {
    return this.data.transaction(async (tx) => {
      const before = found(await tx.organizations.find(orgId, { forUpdate: true }));
      const after = await tx.organizations.rename(orgId, name, this.clock.now());
      await tx.audit.record(orgId, actor, { action: 'organization.updated', target: { type: 'organization', id: orgId }, details: diff(before, after, ['name']) });
      return after;
    });
  }

  /** Deletes the organization with its members and clients; every process forgets those clients' snapshots. */
  async delete(orgId: string, actor: Actor): Promise<void> {
    await this.data.transaction(async (tx) => {
      const org = found(await tx.organizations.find(orgId, { forUpdate: true }));
      const clientIds = await tx.clients.idsOf(orgId);
      await tx.organizations.delete(orgId);
      // The organization's own audit trail goes with it (cascade); the platform keeps this record.
      await tx.audit.record(null, actor, { action: 'organization.deleted', target: { type: 'organization', id: orgId }, details: { name: org.name, clients: clientIds.length } });
      for (const clientId of clientIds) await this.feed.publish(tx, { kind: 'client', clientId });
    });
  }
}

function found(org: Organization | undefined): Organization {
  if (!org) throw new NotFoundError('Organization');
  return org;
}
