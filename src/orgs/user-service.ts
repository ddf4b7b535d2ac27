import type { Actor } from '../audit/actor.js';
import { diff } from '../audit/diff.js';
import { addMs, type Clock } from '../clock.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors/domain-errors.js';
import { newId } from '../ids.js';
import type { Page, PageRequest } from '../store/pagination.js';
import type { Data, Repositories, Tx } from '../store/repositories/index.js';
import type { UserRow } from '../store/repositories/users.js';
import type { NewUser, User, UserPatch } from '../wire/management.js';
import { consumeOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js';

const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;
const SETUP_TTL_MS = 24 * 3600 * 1000;

/** Users (platform-wide accounts), their passwords, invitations and the first-run setup link. */
export class UserService {
  constructor(
    private readonly data: Data,
    private readonly clock: Clock,
    private readonly issuer: string,
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

  /** Creates a user; without a password the answer carries a one-time `invite_url` to set one. */
  async create(input: NewUser, actor: Actor, tx?: Tx): Promise<{ user: User; invite_url?: string }> {
    const run = async (t: Tx) => {
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
        created_at: now,
        updated_at: now,
      });
      await t.audit.record(null, actor, { action: 'user.created', target: { type: 'user', id }, details: { email, platform_admin: row.platform_admin } });
      const user = toUser(row);
      if (input.password) return { user };
      const token = await issueOneTimeToken(t, 'invite', id, addMs(now, INVITE_TTL_MS));
      return { user, invite_url: `${this.issuer}/invite?token=${token}` };
    };
    return tx ? run(tx) : this.data.transaction(run);
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

  /** Sets the password of an invited user from their one-time link. */
  async acceptInvite(token: string, input: { password: string; name?: string | undefined }): Promise<User> {
    return this.data.transaction(async (tx) => {
      const used = await consumeOneTimeToken(tx, 'invite', token, this.clock.now());
      if (!used?.userId) throw new InvalidInputError('This invitation link is invalid, used or expired.', [{ path: ['token'], message: 'invalid, used or expired' }]);
      await tx.users.update(used.userId, { password_hash: await hashPassword(checkedPassword(input.password)), ...(input.name ? { name: input.name } : {}), updated_at: this.clock.now() });
      await tx.audit.record(null, { type: 'user', id: used.userId }, { action: 'user.invite_accepted', target: { type: 'user', id: used.userId } });
      return toUser(await readUser(tx, used.userId));
    });
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

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    platform_admin: row.platform_admin,
    has_password: row.password_hash !== null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
