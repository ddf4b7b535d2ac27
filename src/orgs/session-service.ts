import { randomBytes } from 'node:crypto';
import { addSeconds, type Clock } from '../clock.js';
import { AuthenticationFailedError } from '../errors/domain-errors.js';
import { randomBase62 } from '../ids.js';
import type { Data } from '../store/repositories/index.js';
import type { FailureThrottle } from '../throttle/failure-throttle.js';
import type { User } from '../wire/management.js';
import { tokenHash } from './one-time-tokens.js';
import { verifyPassword } from './passwords.js';
import type { UserService } from './user-service.js';

export const SESSION_TTL_SECONDS = 12 * 3600;

export interface Session {
  user: User;
  csrfToken: string;
  expiresAt: Date;
}

/**
 * How sign-in is throttled (throttle/failure-throttle.ts; the address limit is
 * AUTH_FAILURES_PER_IP): 10 failures for one account from one address refuse that address
 * for that account; 10 failures for one account from all addresses together refuse, for
 * that account, every address that has failed for it, while an address that has not (the
 * owner's, usually) still signs in.
 */
export const SIGN_IN_FAILURES_PER_ACCOUNT = 10;

/**
 * Browser sessions: a random cookie value whose SHA-256 is the row key, with a CSRF
 * token of its own. Sign-in is throttled per (account, address), per address, and per
 * account only for addresses that have failed for it (FailureThrottle), so nobody without
 * the password can lock its owner out; a wrong password costs the same time as an unknown email.
 */
export class SessionService {
  constructor(
    private readonly data: Data,
    private readonly users: UserService,
    private readonly throttle: FailureThrottle,
    private readonly clock: Clock,
  ) {}

  async login(email: string, password: string, ip: string): Promise<{ cookie: string; session: Session }> {
    const key = email.toLowerCase();
    await this.throttle.check(key, ip);
    const user = await this.users.findByEmail(key);
    if (!(await verifyPassword(user?.password_hash ?? null, password)) || !user) {
      await this.throttle.failed(key, ip);
      throw new AuthenticationFailedError('Email or password is wrong.');
    }
    await this.throttle.succeeded(key, ip);
    const cookie = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = addSeconds(now, SESSION_TTL_SECONDS);
    const csrfToken = randomBase62(128);
    await this.data.read.users.insertSession({ idHash: tokenHash(cookie), userId: user.id, csrfToken, createdAt: now, expiresAt });
    const { password_hash: _omit, ...publicUser } = user;
    return { cookie, session: { user: publicUser, csrfToken, expiresAt } };
  }

  /** The live session for a cookie value, or undefined. */
  async lookup(cookie: string): Promise<Session | undefined> {
    const row = await this.data.read.users.liveSession(tokenHash(cookie), this.clock.now());
    if (!row) return undefined;
    return { user: await this.users.get(row.user_id), csrfToken: row.csrf_token, expiresAt: row.expires_at };
  }

  async logout(cookie: string): Promise<void> {
    await this.data.read.users.deleteSession(tokenHash(cookie));
  }
}
