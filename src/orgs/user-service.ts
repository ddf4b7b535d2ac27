import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import { addMs, type Clock } from '../clock.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors/domain-errors.js';
import { newId } from '../ids.js';
import type { Page, PageRequest } from '../store/pagination.js';
import type { Data, Repositories, Tx } from '../store/repositories/index.js';
import type { UserRow } from '../store/repositories/users.js';
import type { FailureThrottle } from '../throttle/failure-throttle.js';
import type { InviteBody, InviteLookup, LinkDelivery, NewUser, User, UserPatch } from '../wire/management.js';
import type { InvitationLinks } from './invitation-links.js';
import { consumeOneTimeToken, issueOneTimeToken, peekOneTimeToken } from './one-time-tokens.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';

const SETUP_TTL_MS = 24 * 3600 * 1000;

/** Who is accepting an invitation: the signed-in user, if any (their session, with its CSRF token), and from where. */
export interface AcceptContext {
  signedInUserId: string | undefined;
  ip: string;
}

/**
 * Users (platform-wide accounts), their passwords, invitations and the first-run setup link.
 * An invitation is accepted by the owner of the account it names: one who chooses the password
 * of an account that has none, or one who proves they hold an account that has one (its
 * session, or its password, throttled like a sign-in).
 */
export class UserService {
  constructor(
    private readonly data: Data,
    private readonly clock: Clock,
    private readonly issuer: string,
    private readonly links: InvitationLinks,
    /** The sign-in throttle: a wrong current password on an invitation counts as a failed sign-in. */
    private readonly loginThrottle: FailureThrottle,
  ) {}

  async count(): Promise<number> {
    return this.data.read.users.count();
  }

  async list(page: PageRequest): Promise<Page<User>> {
    const rows = await this.data.read.users.list(page);
    return { data: rows.data.map(toUser), next_cursor: rows.next_cursor };
  }

  async get(id: string): Promise<User> {
    return toUser(await readUser(this.data.read, id));
  }

  async findByEmail(email: string): Promise<(User & { password_hash: string | null }) | undefined> {
    const row = await this.data.read.users.findByEmail(email.toLowerCase());
    return row ? { ...toUser(row), password_hash: row.password_hash } : undefined;
  }

  /**
   * Creates a user. Without a password, a one-time link to choose one is mailed (SMTP_URL) or,
   * without SMTP_URL, returned as `invite_url`.
   */
  async create(input: NewUser, actor: Actor, tx?: Tx): Promise<{ user: User } & Partial<LinkDelivery>> {
    const run = async (t: Tx) => {
      const user = await this.insert(t, input, actor);
      if (input.password) return { user };
      return { user, ...(await this.links.issue(t, user, null)) };
    };
    return tx ? run(tx) : this.data.transaction(run);
  }

  /** An account without a password for an invitation to an organization, whose link will set the password (MembershipService). */
  async createForInvitation(tx: Tx, email: string, actor: Actor): Promise<User> {
    return this.insert(tx, { email }, actor);
  }

  private async insert(t: Tx, input: NewUser, actor: Actor): Promise<User> {
    const email = input.email.toLowerCase();
    if (await t.users.findByEmail(email)) throw new ConflictError(`A user with email ${email} exists already.`);
    const id = newId('usr');
    const now = this.clock.now();
    const row = await t.users.insert({
      id,
      email,
      name: input.name ?? '',
      password_hash: input.password ? await hashPassword(checkedPassword(input.password)) : null,
      platform_admin: input.platform_admin ?? false,
      // A platform administrator who sets the password vouches for the account; a link proves the address only once it is used, if it was mailed.
      email_verified: input.password !== undefined,
      created_at: now,
      updated_at: now,
    });
    await t.audit.record(null, actor, { action: 'user.created', target: { type: 'user', id }, details: { email, platform_admin: row.platform_admin } });
    return toUser(row);
  }

  async update(id: string, patch: UserPatch, actor: Actor): Promise<User> {
    return this.data.transaction(async (tx) => {
      const before = toUser(await readUser(tx, id));
      const email = patch.email?.toLowerCase();
      if (email !== undefined && email !== before.email && (await tx.users.findByEmail(email))) throw new ConflictError(`A user with email ${email} exists already.`);
      await tx.users.update(id, {
        ...(email !== undefined ? { email } : {}),
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.platform_admin !== undefined ? { platform_admin: patch.platform_admin } : {}),
        ...(patch.password !== undefined ? { password_hash: await hashPassword(checkedPassword(patch.password)) } : {}),
        updated_at: this.clock.now(),
      });
      if (patch.password !== undefined) await tx.users.deleteSessionsOf(id);
      const after = toUser(await readUser(tx, id));
      await tx.audit.record(null, actor, {
        action: 'user.updated',
        target: { type: 'user', id },
        details: { ...diff(before, after, ['email', 'name', 'platform_admin']), ...(patch.password !== undefined ? { password: 'changed' } : {}) },
      });
      return after;
    });
  }

  async delete(id: string, actor: Actor): Promise<void> {
    await this.data.transaction(async (tx) => {
      const user = await readUser(tx, id);
      await tx.users.delete(id);
      await tx.audit.record(null, actor, { action: 'user.deleted', target: { type: 'user', id }, details: { email: user.email } });
    });
  }

  /** What an invitation link is for (the web app's invitation page), without using it. */
  async inspectInvite(token: string): Promise<InviteLookup> {
    const { user, orgId } = await this.liveInvite(token);
    let organization: InviteLookup['organization'] = null;
    let role: InviteLookup['role'] = null;
    if (orgId) {
      const [org, membership] = await Promise.all([this.data.read.organizations.find(orgId), this.data.read.organizations.membershipOf(orgId, user.id)]);
      if (!org || membership?.status !== 'invited') throw invalidLink();
      organization = { id: org.id, name: org.name };
      role = membership.role;
    }
    return { email: user.email, organization, role, has_password: user.password_hash !== null };
  }

  /**
   * Accepts an invitation or a password link: sets the password of an account that has none
   * (`password`), or, for an account that has one, requires proof that the caller holds it (signed
   * in as that user, or `current_password`); then an invitation's membership becomes active. The
   * link is used in the same transaction, so a failed proof leaves it working.
   */
  async acceptInvite(token: string, input: Omit<InviteBody, 'token'>, ctx: AcceptContext): Promise<User> {
    const { user } = await this.liveInvite(token);
    const actor: Actor = { type: 'user', id: user.id, ip: ctx.ip };
    let newPasswordHash: string | undefined;
    if (user.password_hash === null) {
      if (input.password === undefined) throw new InvalidInputError('Choose a password for the account.', [{ path: ['password'], message: 'required: the account has no password yet' }]);
      newPasswordHash = await hashPassword(checkedPassword(input.password));
    } else {
      if (input.password !== undefined) {
        throw new InvalidInputError(`${user.email} has a password already: sign in as ${user.email}, or give that password as current_password.`, [
          { path: ['password'], message: 'not allowed: the account has a password' },
        ]);
      }
      if (ctx.signedInUserId !== user.id) await this.proveOwner(user, input.current_password, ctx.ip);
    }
    return this.data.transaction(async (tx) => {
      const now = this.clock.now();
      const used = await consumeOneTimeToken(tx, 'invite', token, now);
      if (!used || used.userId !== user.id) throw invalidLink();
      if (newPasswordHash !== undefined) {
        // Only a mailed link shows that whoever chose the password reads the address.
        const set = await tx.users.setFirstPassword(user.id, { password_hash: newPasswordHash, email_verified: used.mailed, name: input.name || undefined, updated_at: now });
        if (!set) throw new ConflictError(`${user.email} has a password now: open the link again and give that password, or sign in first.`);
        await tx.audit.record(null, actor, { action: 'user.invite_accepted', target: { type: 'user', id: user.id }, details: { email_verified: used.mailed } });
      } else if (used.mailed && !user.email_verified) {
        // The holder of the account has now also shown they read its address.
        await tx.users.update(user.id, { email_verified: true, updated_at: now });
        await tx.audit.record(null, actor, { action: 'user.email_verified', target: { type: 'user', id: user.id } });
      }
      if (used.orgId) {
        const membership = await tx.organizations.membershipOf(used.orgId, user.id);
        if (membership?.status !== 'invited' || !(await tx.organizations.activateMember(used.orgId, user.id))) throw invalidLink();
        await tx.audit.record(used.orgId, actor, { action: 'member.joined', target: { type: 'user', id: user.id }, details: { email: user.email, role: membership.role } });
      }
      return toUser(await readUser(tx, user.id));
    });
  }

  /** A live invite token and its user; one whose invitation was withdrawn, or a password link of an account that has a password since, is no longer live. */
  private async liveInvite(token: string): Promise<{ user: UserRow; orgId: string | null }> {
    const live = await peekOneTimeToken(this.data.read, 'invite', token, this.clock.now());
    const user = live?.userId ? await this.data.read.users.find(live.userId) : undefined;
    if (!live || !user) throw invalidLink();
    if (!live.orgId && user.password_hash !== null) throw invalidLink();
    return { user, orgId: live.orgId };
  }

  /**
   * The caller knows the account's password: throttled like a sign-in (SessionService.login),
   * with whose failures it counts. A wrong one is a wrong field (400), not a missing session (401).
   */
  private async proveOwner(user: UserRow, password: string | undefined, ip: string): Promise<void> {
    if (password === undefined) {
      throw new InvalidInputError(`To accept, sign in as ${user.email}, or give that account's password as current_password.`, [
        { path: ['current_password'], message: 'required: sign in as the invited account or give its password' },
      ]);
    }
    await this.loginThrottle.check(user.email, ip);
    if (!(await verifyPassword(user.password_hash, password))) {
      await this.loginThrottle.failed(user.email, ip);
      throw new InvalidInputError('The password is wrong.', [{ path: ['current_password'], message: 'wrong password' }]);
    }
  }

  /** No user exists yet: the instance waits for its first platform administrator (the setup link). */
  async setupRequired(): Promise<boolean> {
    return !(await this.data.read.users.any());
  }

  /** With no users yet, a one-time link to create the first platform administrator (printed at start). */
  async setupLink(): Promise<string | undefined> {
    if (await this.data.read.users.any()) return undefined;
    const token = await issueOneTimeToken(this.data.read, 'setup', null, addMs(this.clock.now(), SETUP_TTL_MS));
    return `${this.issuer}/setup?token=${token}`;
  }

  /** Creates the first platform administrator from the setup link (valid once, and only while no user exists). */
  async completeSetup(token: string, input: { email: string; name?: string | undefined; password: string }): Promise<User> {
    return this.data.transaction(async (tx) => {
      const used = await consumeOneTimeToken(tx, 'setup', token, this.clock.now());
      if (!used) throw new InvalidInputError('This setup link is invalid, used or expired.', [{ path: ['token'], message: 'invalid, used or expired' }]);
      if (await tx.users.any()) throw new ConflictError('Setup is complete: an administrator exists already.');
      const { user } = await this.create({ ...input, platform_admin: true }, { type: 'system', id: 'setup' }, tx);
      return user;
    });
  }

  /** `ADMIN_EMAIL`/`ADMIN_PASSWORD` on a start with no users yet. */
  async ensureAdmin(email: string, password: string): Promise<User | undefined> {
    if ((await this.count()) > 0) return undefined;
    const { user } = await this.create({ email, password, name: 'Administrator', platform_admin: true }, { type: 'system', id: 'ADMIN_EMAIL' });
    return user;
  }
}

function checkedPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInputError('The password is too short.', [{ path: ['password'], message: `at least ${MIN_PASSWORD_LENGTH} characters` }]);
  }
  return password;
}

async function readUser(repos: Repositories, id: string): Promise<UserRow> {
  const row = await repos.users.find(id);
  if (!row) throw new NotFoundError('User');
  return row;
}

function invalidLink(): InvalidInputError {
  return new InvalidInputError('This invitation link is invalid, used or expired.', [{ path: ['token'], message: 'invalid, used or expired' }]);
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    platform_admin: row.platform_admin,
    has_password: row.password_hash !== null,
    email_verified: row.email_verified,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
