import type { Actor } from '../audit/actor.js';
import type { Clock } from '../clock.js';
import { ConflictError, NotFoundError } from '../errors/domain-errors.js';
import type { Data, Tx } from '../store/repositories/index.js';
import type { Member, MemberRole, NewMember } from '../wire/management.js';
import type { UserService } from './user-service.js';

/** Who belongs to an organization, and as what. An organization always keeps at least one admin. */
export class MembershipService {
  constructor(
    private readonly data: Data,
    private readonly users: UserService,
    private readonly clock: Clock,
  ) {}

  /** The user's role in the organization, or undefined. */
  async roleOf(orgId: string, userId: string): Promise<MemberRole | undefined> {
    return this.data.read.organizations.roleOf(orgId, userId);
  }

  async organizationsOf(userId: string): Promise<{ id: string; name: string; role: MemberRole }[]> {
    return this.data.read.users.organizationsOf(userId);
  }

  async list(orgId: string): Promise<Member[]> {
    return this.data.read.organizations.members(orgId);
  }

  /** Adds a member by email; an email with no account yet creates the user and returns its invite link. */
  async add(orgId: string, input: NewMember, actor: Actor): Promise<{ member: Member; invite_url?: string }> {
    return this.data.transaction(async (tx) => {
      if (!(await tx.organizations.find(orgId))) throw new NotFoundError('Organization');
      const email = input.email.toLowerCase();
      let userId = (await tx.users.findByEmail(email))?.id;
      let inviteUrl: string | undefined;
      if (!userId) {
        const created = await this.users.create({ email }, actor, tx);
        userId = created.user.id;
        inviteUrl = created.invite_url;
      }
      if (await tx.organizations.roleOf(orgId, userId)) throw new ConflictError(`${email} is a member already.`);
      await tx.organizations.addMember(orgId, userId, input.role, this.clock.now());
      await tx.audit.record(orgId, actor, { action: 'member.added', target: { type: 'user', id: userId }, details: { email, role: input.role } });
      const member = await lockedMember(tx, orgId, userId);
      return inviteUrl ? { member, invite_url: inviteUrl } : { member };
    });
  }

  async setRole(orgId: string, userId: string, role: MemberRole, actor: Actor): Promise<Member> {
    return this.data.transaction(async (tx) => {
      const before = await lockedMember(tx, orgId, userId);
      if (before.role === 'admin' && role !== 'admin') await assertAnotherAdmin(tx, orgId, userId);
      await tx.organizations.setMemberRole(orgId, userId, role);
      await tx.audit.record(orgId, actor, { action: 'member.role_changed', target: { type: 'user', id: userId }, details: { role: { from: before.role, to: role } } });
      return lockedMember(tx, orgId, userId);
    });
  }

  async remove(orgId: string, userId: string, actor: Actor): Promise<void> {
    await this.data.transaction(async (tx) => {
      const before = await lockedMember(tx, orgId, userId);
      if (before.role === 'admin') await assertAnotherAdmin(tx, orgId, userId);
      await tx.organizations.removeMember(orgId, userId);
      await tx.audit.record(orgId, actor, { action: 'member.removed', target: { type: 'user', id: userId }, details: { email: before.email } });
    });
  }
}

async function lockedMember(tx: Tx, orgId: string, userId: string): Promise<Member> {
  const member = await tx.organizations.member(orgId, userId, { forUpdate: true });
  if (!member) throw new NotFoundError('Member');
  return member;
}

async function assertAnotherAdmin(tx: Tx, orgId: string, userId: string): Promise<void> {
  if (!(await tx.organizations.hasOtherAdmin(orgId, userId))) throw new ConflictError('An organization needs at least one admin; make someone else admin first.');
}
