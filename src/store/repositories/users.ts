import type { Selectable } from 'kysely';
import type { MemberRole } from '../../wire/management.js';
import type { Executor } from '../executor.js';
import { newestFirst, toPage, type Page, type PageRequest } from '../pagination.js';
import type { OneTimeTokenTable, UserTable } from '../schema.js';

/** A user's row: the password hash goes no further than the services. */
export type UserRow = Selectable<UserTable>;
export type OneTimeKind = OneTimeTokenTable['kind'];

/**
 * Users (platform-wide accounts), their sessions and one-time links. Not organization data:
 * a user belongs to organizations through memberships (OrganizationRepository).
 */
export class UserRepository {
  constructor(private readonly db: Executor) {}

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async any(): Promise<boolean> {
    return (await this.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  /** Newest first (a scan of users: platform admins list them). */
  async list(page: PageRequest): Promise<Page<UserRow>> {
    const rows = await newestFirst(this.db.selectFrom('users').selectAll(), page, 'created_at', 'id').execute();
    return toPage(rows, page.limit, (u) => ({ at: u.created_at, id: u.id }));
  }

  async find(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** By lower-cased email (users_email_idx). */
  async findByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async insert(user: Omit<UserRow, 'platform_admin'> & { platform_admin: boolean }): Promise<UserRow> {
    return this.db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
  }

  async update(id: string, patch: Partial<Pick<UserRow, 'email' | 'name' | 'platform_admin' | 'password_hash' | 'email_verified'>> & { updated_at: Date }): Promise<void> {
    await this.db.updateTable('users').set(patch).where('id', '=', id).execute();
  }

  /**
   * Sets the password of an account that has none; false when it has one (by now). One UPDATE
   * by primary key: of two links to the same new account used at once, one sets the password.
   */
  async setFirstPassword(id: string, patch: Pick<UserRow, 'password_hash' | 'email_verified'> & { name?: string | undefined; updated_at: Date }): Promise<boolean> {
    const { name, ...rest } = patch;
    const row = await this.db
      .updateTable('users')
      .set({ ...rest, ...(name !== undefined ? { name } : {}) })
      .where('id', '=', id)
      .where('password_hash', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes the user; memberships and sessions go with it (foreign keys cascade). */
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', id).execute();
  }

  /** The organizations where the user is an active member, by name (memberships_user_idx); invitations are not among them. */
  async organizationsOf(userId: string): Promise<{ id: string; name: string; role: MemberRole }[]> {
    return this.db
      .selectFrom('memberships')
      .innerJoin('organizations', 'organizations.id', 'memberships.org_id')
      .select(['organizations.id', 'organizations.name', 'memberships.role'])
      .where('memberships.user_id', '=', userId)
      .where('memberships.status', '=', 'active')
      .orderBy('organizations.name')
      .execute();
  }

  async insertSession(session: { idHash: Buffer; userId: string; csrfToken: string; createdAt: Date; expiresAt: Date }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id_hash: session.idHash, user_id: session.userId, csrf_token: session.csrfToken, created_at: session.createdAt, expires_at: session.expiresAt })
      .execute();
  }

  /** A session that has not expired (primary key). */
  async liveSession(idHash: Buffer, now: Date): Promise<{ user_id: string; csrf_token: string; expires_at: Date } | undefined> {
    return this.db.selectFrom('sessions').select(['user_id', 'csrf_token', 'expires_at']).where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
  }

  async deleteSession(idHash: Buffer): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  /** Ends every session of the user (sessions_user_idx), e.g. after a password change. */
  async deleteSessionsOf(userId: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('user_id', '=', userId).execute();
  }

  async insertOneTimeToken(token: { hash: Buffer; kind: OneTimeKind; userId: string | null; orgId?: string | null; mailed?: boolean; expiresAt: Date }): Promise<void> {
    await this.db
      .insertInto('one_time_tokens')
      .values({ token_hash: token.hash, kind: token.kind, user_id: token.userId, org_id: token.orgId ?? null, mailed: token.mailed ?? false, expires_at: token.expiresAt })
      .execute();
  }

  /** A token that is of that kind, unused and not expired, without using it (primary key). */
  async liveOneTimeToken(hash: Buffer, kind: OneTimeKind, now: Date): Promise<OneTimeUse | undefined> {
    const row = await this.db
      .selectFrom('one_time_tokens')
      .select(['user_id', 'org_id', 'mailed'])
      .where('token_hash', '=', hash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row ? { userId: row.user_id, orgId: row.org_id, mailed: row.mailed } : undefined;
  }

  /**
   * Marks the token used and returns what it is for, or undefined when it is unknown, of
   * another kind, used or expired. One UPDATE by primary key: two concurrent uses cannot both
   * succeed.
   */
  async consumeOneTimeToken(hash: Buffer, kind: OneTimeKind, now: Date): Promise<OneTimeUse | undefined> {
    const row = await this.db
      .updateTable('one_time_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('kind', '=', kind)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['user_id', 'org_id', 'mailed'])
      .executeTakeFirst();
    return row ? { userId: row.user_id, orgId: row.org_id, mailed: row.mailed } : undefined;
  }

  /** Forgets the user's invitations to the organization, used or not (one_time_tokens_user_idx). */
  async deleteInvitations(orgId: string, userId: string): Promise<void> {
    await this.db.deleteFrom('one_time_tokens').where('user_id', '=', userId).where('org_id', '=', orgId).execute();
  }
}

/** What a one-time token is for: its user (null for a setup token), its organization (invitations), and whether it was mailed. */
export interface OneTimeUse {
  userId: string | null;
  orgId: string | null;
  mailed: boolean;
}
