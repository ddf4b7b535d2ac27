import type { Member, MemberRole, Organization } from '../../wire/management.js';
import type { Executor } from '../executor.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../pagination.js';

/** Organizations and their members. Every method but `insert` and `list` takes the organization first. */
export class OrganizationRepository {
  constructor(private readonly db: Executor) {}

  async insert(org: { id: string; name: string; now: Date }): Promise<Organization> {
    return this.db.insertInto('organizations').values({ id: org.id, name: org.name, created_at: org.now, updated_at: org.now }).returningAll().executeTakeFirstOrThrow();
  }

  /** Primary key; `forUpdate` locks the row until the transaction ends. */
  async find(orgId: string, opts: { forUpdate?: boolean } = {}): Promise<Organization | undefined> {
    const query = this.db.selectFrom('organizations').selectAll().where('id', '=', orgId);
    return (opts.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  /** All organizations, or with `memberId` only that user's (memberships_user_idx), newest first. */
  async list(page: PageRequest, opts: { memberId?: string | undefined } = {}): Promise<Page<Organization>> {
    let query = this.db.selectFrom('organizations').selectAll('organizations');
    const memberId = opts.memberId;
    if (memberId !== undefined) {
      query = query.where('organizations.id', 'in', (eb) => eb.selectFrom('memberships').select('memberships.org_id').where('memberships.user_id', '=', memberId));
    }
    const rows = await newestFirst(query, page, 'organizations.created_at', 'organizations.id').execute();
    return toPage(rows, page.limit, (o) => ({ at: o.created_at, id: o.id }));
  }

  async rename(orgId: string, name: string, at: Date): Promise<Organization> {
    return this.db.updateTable('organizations').set({ name, updated_at: at }).where('id', '=', orgId).returningAll().executeTakeFirstOrThrow();
  }

  /** Deletes the organization; its members, clients and audit trail go with it (foreign keys cascade). */
  async delete(orgId: string): Promise<void> {
    await this.db.deleteFrom('organizations').where('id', '=', orgId).execute();
  }

  /** The user's role in the organization (memberships_pk). */
  async roleOf(orgId: string, userId: string): Promise<MemberRole | undefined> {
    return (await this.db.selectFrom('memberships').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst())?.role;
  }

  /** The organization's members by email (memberships_pk prefix). */
  async members(orgId: string): Promise<Member[]> {
    return this.selectMembers(orgId).orderBy('users.email').execute();
  }

  /** One member, locked until the transaction ends when `forUpdate` (memberships_pk). */
  async member(orgId: string, userId: string, opts: { forUpdate?: boolean } = {}): Promise<Member | undefined> {
    const query = this.selectMembers(orgId).where('memberships.user_id', '=', userId);
    return (opts.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  async addMember(orgId: string, userId: string, role: MemberRole, at: Date): Promise<void> {
    await this.db.insertInto('memberships').values({ org_id: orgId, user_id: userId, role, created_at: at }).execute();
  }

  async setMemberRole(orgId: string, userId: string, role: MemberRole): Promise<void> {
    await this.db.updateTable('memberships').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).execute();
  }

  async removeMember(orgId: string, userId: string): Promise<void> {
    await this.db.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
  }

  /** Whether an admin other than `userId` remains (memberships_pk prefix). */
  async hasOtherAdmin(orgId: string, userId: string): Promise<boolean> {
    const other = await this.db.selectFrom('memberships').select('user_id').where('org_id', '=', orgId).where('role', '=', 'admin').where('user_id', '!=', userId).executeTakeFirst();
    return other !== undefined;
  }

  private selectMembers(orgId: string) {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.id as user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
      .where('memberships.org_id', '=', orgId);
  }
}
