import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../audit/audit-log.js';
import { diff } from '../audit/diff.js';
import type { Clock } from '../clock.js';
import { Conflict, InvalidRequest, NotFound } from '../errors/api-error.js';
import { newId } from '../ids.js';
import type { Database } from '../store/schema.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../store/pagination.js';
import { consumeOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.js';

/** A user as the API shows it: never the password hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  platform_admin: boolean;
  /** False until the user has set a password (invited, not yet accepted). */
  has_password: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface NewUser {
  email: string;
  name?: string | undefined;
  password?: string | undefined;
  platform_admin?: boolean | undefined;
}

const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;
const SETUP_TTL_MS = 24 * 3600 * 1000;

type Db = Kysely<Database>;

/** Users (platform-wide accounts), their passwords, invitations and the first-run setup link. */
export class UserService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly issuer: string,
  ) {}

  async count(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async list(page: PageRequest): Promise<Page<User>> {
    const rows = await newestFirst(this.db.selectFrom('users').selectAll(), page, 'created_at', 'id').execute();
    return toPage(rows.map(toUser), page.limit, (u) => ({ at: u.created_at, id: u.id }));
  }

  async get(id: string): Promise<User> {
    return toUser(await readUser(this.db, id));
  }

  async findByEmail(email: string): Promise<(User & { password_hash: string | null }) | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
    return row ? { ...toUser(row), password_hash: row.password_hash } : undefined;
  }

  /** Creates a user; without a password the answer carries a one-time `invite_url` to set one. */
  async create(input: NewUser, actor: Actor, trx?: Transaction<Database>): Promise<{ user: User; invite_url?: string }> {
    const run = async (t: Transaction<Database>) => {
      const email = input.email.toLowerCase();
      const taken = await t.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      if (taken) throw new Conflict(`A user with email ${email} exists already.`);
      const id = newId('usr');
      const now = this.clock.now();
      const row = await t
        .insertInto('users')
        .values({
          id,
          email,
          name: input.name ?? '',
          password_hash: input.password ? await hashPassword(checkedPassword(input.password)) : null,
          platform_admin: input.platform_admin ?? false,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(t, actor, { orgId: null, action: 'user.created', target: { type: 'user', id }, details: { email, platform_admin: row.platform_admin } });
      const user = toUser(row);
      if (input.password) return { user };
      const token = await issueOneTimeToken(t, 'invite', id, new Date(now.getTime() + INVITE_TTL_MS));
      return { user, invite_url: `${this.issuer}/invite?token=${token}` };
    };
    return trx ? run(trx) : this.db.transaction().execute(run);
  }

  async update(id: string, patch: { email?: string | undefined; name?: string | undefined; password?: string | undefined; platform_admin?: boolean | undefined }, actor: Actor): Promise<User> {
    return this.db.transaction().execute(async (trx) => {
      const before = toUser(await readUser(trx, id));
      if (patch.email !== undefined && patch.email.toLowerCase() !== before.email) {
        const taken = await trx.selectFrom('users').select('id').where('email', '=', patch.email.toLowerCase()).executeTakeFirst();
        if (taken) throw new Conflict(`A user with email ${patch.email.toLowerCase()} exists already.`);
      }
      await trx
        .updateTable('users')
        .set({
          ...(patch.email !== undefined ? { email: patch.email.toLowerCase() } : {}),
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.platform_admin !== undefined ? { platform_admin: patch.platform_admin } : {}),
          ...(patch.password !== undefined ? { password_hash: await hashPassword(checkedPassword(patch.password)) } : {}),
          updated_at: this.clock.now(),
        })
        .where('id', '=', id)
        .execute();
      if (patch.password !== undefined) await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      const after = toUser(await readUser(trx, id));
      await recordAudit(trx, actor, {
        orgId: null,
        action: 'user.updated',
        target: { type: 'user', id },
        details: { ...diff(before, after, ['email', 'name', 'platform_admin']), ...(patch.password !== undefined ? { password: 'changed' } : {}) },
      });
      return after;
    });
  }

  async delete(id: string, actor: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const user = await readUser(trx, id);
      await trx.deleteFrom('users').where('id', '=', id).execute();
      await recordAudit(trx, actor, { orgId: null, action: 'user.deleted', target: { type: 'user', id }, details: { email: user.email } });
    });
  }

  /** Sets the password of an invited user from their one-time link. */
  async acceptInvite(token: string, input: { password: string; name?: string | undefined }): Promise<User> {
    return this.db.transaction().execute(async (trx) => {
      const used = await consumeOneTimeToken(trx, 'invite', token, this.clock.now());
      if (!used?.userId) throw new InvalidRequest('This invitation link is invalid, used or expired.', [{ field: '/body/token', message: 'invalid, used or expired' }]);
      await trx
        .updateTable('users')
        .set({ password_hash: await hashPassword(checkedPassword(input.password)), ...(input.name ? { name: input.name } : {}), updated_at: this.clock.now() })
        .where('id', '=', used.userId)
        .execute();
      await recordAudit(trx, { type: 'user', id: used.userId }, { orgId: null, action: 'user.invite_accepted', target: { type: 'user', id: used.userId } });
      return toUser(await readUser(trx, used.userId));
    });
  }

  /** The first-run setup link: only while there are no users at all. */
  async issueSetupToken(): Promise<string | undefined> {
    if ((await this.count()) > 0) return undefined;
    return issueOneTimeToken(this.db, 'setup', null, new Date(this.clock.now().getTime() + SETUP_TTL_MS));
  }

  /** Creates the first platform administrator from the setup link (valid once, and only while no user exists). */
  async completeSetup(token: string, input: { email: string; name?: string | undefined; password: string }): Promise<User> {
    return this.db.transaction().execute(async (trx) => {
      const used = await consumeOneTimeToken(trx, 'setup', token, this.clock.now());
      if (!used) throw new InvalidRequest('This setup link is invalid, used or expired.', [{ field: '/body/token', message: 'invalid, used or expired' }]);
      const existing = await trx.selectFrom('users').select('id').limit(1).executeTakeFirst();
      if (existing) throw new Conflict('Setup is complete: an administrator exists already.');
      const { user } = await this.create({ ...input, platform_admin: true }, { type: 'system', id: 'setup' }, trx);
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
    throw new InvalidRequest('The password is too short.', [{ field: '/body/password', message: `at least ${MIN_PASSWORD_LENGTH} characters` }]);
  }
  return password;
}

async function readUser(db: Db, id: string) {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFound('User');
  return row;
}

function toUser(row: { id: string; email: string; name: string; platform_admin: boolean; password_hash: string | null; created_at: Date; updated_at: Date }): User {
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
