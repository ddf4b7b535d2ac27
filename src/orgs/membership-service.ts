import type { Actor } from '../audit/actor.js';
import type { Clock } from '../clock.js';
import { ConflictError, NotFoundError } from '../errors/domain-errors.js';
import type { Data, Tx } from '../store/repositories/index.js';
import type { LinkDelivery, Member, MemberRole, NewMember } from '../wire/management.js';
import type { InvitationLinks } from './invitation-links.js';
import type { UserService } from './user-service.js';

/**
 * Who belongs to an organization, and as what. Adding an email always invites: the membership
 * is `invited`, grants nothing, and becomes `active` only when the account's owner accepts the
 * link sent for that user and that organization (UserService.acceptInvite). So no admin can
 * make an account that another organization trusts act for them, nor learn who holds an
 * address. An organization always keeps at least one active admin.
 */
export class MembershipService {
  constructor(
    private readonly data: Data,
    private readonly users: UserService,
    private readonly links: InvitationLinks,
    private readonly clock: Clock,
  ) {}

  /** The user's role in the organization if they are an active member, or undefined (an invitation grants nothing). */
  async roleOf(orgId: string, userId: string): Promise<MemberRole | undefined> {
    return this.data.read.organizations.roleOf(orgId, userId);
  }

  /** The organizations where the user is an active member. */
  async organizationsOf(userId: string): Promise<{ id: string; name: string; role: MemberRole }[]> {
    return this.data.read.users.organizationsOf(userId);
  }

  async list(orgId: string): Promise<Member[]> {
    return this.data.read.organizations.members(orgId);
  }

  /**
   * Invites an email: an account without a password is created when there is none, and the
   * invitation link is mailed to the address (SMTP_URL) or returned for the admin to pass on.
   */
  async add(orgId: string, input: NewMember, actor: Actor): Promise<{ member: Member } & LinkDelivery> {
    return this.data.transaction(async (tx) => {
      // Locked: two invitations of one email to this organization wait for each other.
      const org = await tx.organizations.find(orgId, { forUpdate: true });
      if (!org) throw new NotFoundError('Organization');
      const email = input.email.toLowerCase();
      const user = (await tx.users.findByEmail(email)) ?? (await this.users.createForInvitation(tx, email, actor));
      const existing = await tx.organizations.membershipOf(orgId, user.id);
      if (existing) throw new ConflictError(existing.status === 'active' ? `${email} is a member already.` : `${email} has been invited already.`);
      await tx.organizations.addMember(orgId, user.id, input.role, 'invited', this.clock.now());
      await tx.audit.record(orgId, actor, { action: 'member.invited', target: { type: 'user', id: user.id }, details: { email, role: input.role } });
      const member = await lockedMember(tx, orgId, user.id);
      // Last: a mail that cannot be sent undoes the invitation.
      const delivery = await this.links.issue(tx, { id: user.id, email }, { org: { id: org.id, name: org.name }, role: input.role });
      return { member, ...delivery };
    });
  }

  /** Changes the role of a member, or the role an invitation offers. */
  async setRole(orgId: string, userId: string, role: MemberRole, actor: Actor): Promise<Member> {
    return this.data.transaction(async (tx) => {
      const before = await lockedMember(tx, orgId, userId);
      if (isActiveAdmin(before) && role !== 'admin') await assertAnotherAdmin(tx, orgId, userId);
      await tx.organizations.setMemberRole(orgId, userId, role);
      await tx.audit.record(orgId, actor, { action: 'member.role_changed', target: { type: 'user', id: userId }, details: { role: { from: before.role, to: role } } });
      return lockedMember(tx, orgId, userId);
    });
  }

  /** Removes a member, or withdraws an invitation (its link stops working). */
  async remove(orgId: string, userId: string, actor: Actor): Promise<void> {
    await this.data.transaction(async (tx) => {
      const before = await lockedMember(tx, orgId, userId);
      if (isActiveAdmin(before)) await assertAnotherAdmin(tx, orgId, userId);
      await tx.organizations.removeMember(orgId, userId);
      await tx.users.deleteInvitations(orgId, userId);
      await tx.audit.record(orgId, actor, { action: 'member.removed', target: { type: 'user', id: userId }, details: { email: before.email, status: before.status } });
    });
  }
}

function isActiveAdmin(member: Member): boolean {
  return member.role === 'admin' && member.status === 'active';
}

async function lockedMember(tx: Tx, orgId: string, userId: string): Promise<Member> {
  const member = await tx.organizations.member(orgId, userId, { forUpdate: true });
  if (!member) throw new NotFoundError('Member');
  return member;
}

async function assertAnotherAdmin(tx: Tx, orgId: string, userId: string): Promise<void> {
  if (!(await tx.organizations.hasOtherAdmin(orgId, userId))) throw new ConflictError('An organization needs at least one admin; make someone else admin first.');
}
