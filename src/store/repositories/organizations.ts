import type { Member, MemberRole, MemberStatus, Organization } from '../../wire/management.js';
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

  /** All organizations, or with `memberId` only those where that user is an active member (memberships_user_idx), newest first. */
  async list(page: PageRequest, opts: { memberId?: string | undefined } = {}): Promise<Page<Organization>> {
    let query = this.db.selectFrom('organizations').selectAll('organizations');
    const memberId = opts.memberId;
    if (memberId !== undefined) {
      query = query.where('organizations.id', 'in', (eb) =>
        eb.selectFrom('memberships').select('memberships.org_id').where('memberships.user_id', '=', memberId).where('memberships.status', '=', 'active'),
      );
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

  /** The user's role in the organization if they are an active member: an invitation grants nothing (memberships_pk). */
  async roleOf(orgId: string, userId: string): Promise<MemberRole | undefined> {
    return (await this.db.selectFrom('memberships').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).where('status', '=', 'active').executeTakeFirst())?.role;
  }

  /** The user's membership, active or invited (memberships_pk). */
  async membershipOf(orgId: string, userId: string): Promise<{ role: MemberRole; status: MemberStatus } | undefined> {
    return this.db.selectFrom('memberships').select(['role', 'status']).where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
  }

  /** The organization's members, active and invited, by email (memberships_pk prefix). */
  async members(orgId: string): Promise<Member[]> {
    return (await this.selectMembers(orgId).orderBy('users.email').execute()).map(toMember);
  }

  /** One member, active or invited, locked until the transaction ends when `forUpdate` (memberships_pk). */
  async member(orgId: string, userId: string, opts: { forUpdate?: boolean } = {}): Promise<Member | undefined> {
    const query = this.selectMembers(orgId).where('memberships.user_id', '=', userId);
    const row = await (opts.forUpdate ? query.forUpdate() : query).executeTakeFirst();
    return row ? toMember(row) : undefined;
  }

  async addMember(orgId: string, userId: string, role: MemberRole, status: MemberStatus, at: Date): Promise<void> {
    await this.db.insertInto('memberships').values({ org_id: orgId, user_id: userId, role, status, created_at: at }).execute();
  }

  /** Turns the user's invitation into an active membership; false when there is no invitation (memberships_pk). */
  async activateMember(orgId: string, userId: string): Promise<boolean> {
    const row = await this.db
      .updateTable('memberships')
      .set({ status: 'active' })
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .where('status', '=', 'invited')
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async setMemberRole(orgId: string, userId: string, role: MemberRole): Promise<void> {
    await this.db.updateTable('memberships').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).execute();
  }

  async removeMember(orgId: string, userId: string): Promise<void> {
    await this.db.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
  }

  /** Whether an active admin other than `userId` remains; an invited admin is none yet (memberships_pk prefix). */
  async hasOtherAdmin(orgId: string, userId: string): Promise<boolean> {
    const other = await this.db
      .selectFrom('memberships')
      .select('user_id')
      .where('org_id', '=', orgId)
      .where('role', '=', 'admin')
      .where('status', '=', 'active')
      .where('user_id', '!=', userId)
      .executeTakeFirst();
    return other !== undefined;
  }

  private selectMembers(orgId: string) {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.id as user_id', 'users.email', 'users.name', 'users.email_verified', 'memberships.role', 'memberships.status', 'memberships.created_at'])
      .where('memberships.org_id', '=', orgId);
  }
}

/** An invited member's name stays the account's own until they accept: adding an email must not tell who holds it. */
function toMember(row: Omit<Member, 'name'> & { name: string }): Member {
  return {
    user_id: row.user_id,
    email: row.email,
    name: row.status === 'active' ? row.name : '',
    role: row.role,
    status: row.status,
    email_verified: row.email_verified,
    created_at: row.created_at,
  };
}
