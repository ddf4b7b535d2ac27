import type { Kysely } from 'kysely';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { Conflict, NotFound } from '../errors/api-error.js';
import type { Database } from '../store/schema.js';
import type { UserService } from './user-service.js';

export type MemberRole = 'admin' | 'member';

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: MemberRole;
  created_at: Date;
}

/** Who belongs to an organization, and as what. An organization always keeps at least one admin. */
export class MembershipService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly users: UserService,
    private readonly clock: Clock,
  ) {}

  /** The user's role in the organization, or undefined. */
  async roleOf(orgId: string, userId: string): Promise<MemberRole | undefined> {
    const row = await this.db.selectFrom('memberships').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role;
  }

  async organizationsOf(userId: string): Promise<{ id: string; name: string; role: MemberRole }[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('organizations', 'organizations.id', 'memberships.org_id')
      .select(['organizations.id', 'organizations.name', 'memberships.role'])
      .where('memberships.user_id', '=', userId)
      .orderBy('organizations.name')
      .execute();
  }

  async list(orgId: string): Promise<Member[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.id as user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
      .where('memberships.org_id', '=', orgId)
      .orderBy('users.email')
      .execute();
  }

  /** Adds a member by email; an email with no account yet creates the user and returns its invite link. */
  async add(orgId: string, input: { email: string; role: MemberRole }, actor: Actor): Promise<{ member: Member; invite_url?: string }> {
    return this.db.transaction().execute(async (trx) => {
      const org = await trx.selectFrom('organizations').select('id').where('id', '=', orgId).executeTakeFirst();
      if (!org) throw new NotFound('Organization');
      const email = input.email.toLowerCase();
      let user = await trx.selectFrom('users').select(['id']).where('email', '=', email).executeTakeFirst();
      let inviteUrl: string | undefined;
      if (!user) {
        const created = await this.users.create({ email }, actor, trx);
        user = { id: created.user.id };
        inviteUrl = created.invite_url;
      }
      const existing = await trx.selectFrom('memberships').select('role').where('org_id', '=', orgId).where('user_id', '=', user.id).executeTakeFirst();
      if (existing) throw new Conflict(`${email} is a member already.`);
      await trx.insertInto('memberships').values({ org_id: orgId, user_id: user.id, role: input.role, created_at: this.clock.now() }).execute();
      await recordAudit(trx, actor, { orgId, action: 'member.added', target: { type: 'user', id: user.id }, details: { email, role: input.role } });
      const member = await readMember(trx, orgId, user.id);
      return inviteUrl ? { member, invite_url: inviteUrl } : { member };
    });
  }

  async setRole(orgId: string, userId: string, role: MemberRole, actor: Actor): Promise<Member> {
    return this.db.transaction().execute(async (trx) => {
      const before = await readMember(trx, orgId, userId);
      if (before.role === 'admin' && role !== 'admin') await assertAnotherAdmin(trx, orgId, userId);
      await trx.updateTable('memberships').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).execute();
      await recordAudit(trx, actor, { orgId, action: 'member.role_changed', target: { type: 'user', id: userId }, details: { role: { from: before.role, to: role } } });
      return readMember(trx, orgId, userId);
    });
  }

  async remove(orgId: string, userId: string, actor: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await readMember(trx, orgId, userId);
      if (before.role === 'admin') await assertAnotherAdmin(trx, orgId, userId);
      await trx.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
      await recordAudit(trx, actor, { orgId, action: 'member.removed', target: { type: 'user', id: userId }, details: { email: before.email } });
    });
  }
}

async function readMember(db: Kysely<Database>, orgId: string, userId: string): Promise<Member> {
  const row = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id as user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.org_id', '=', orgId)
    .where('memberships.user_id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new NotFound('Member');
  return row;
}

async function assertAnotherAdmin(db: Kysely<Database>, orgId: string, userId: string): Promise<void> {
  const other = await db.selectFrom('memberships').select('user_id').where('org_id', '=', orgId).where('role', '=', 'admin').where('user_id', '!=', userId).executeTakeFirst();
  if (!other) throw new Conflict('An organization needs at least one admin; make someone else admin first.');
}
