import { addMs, type Clock } from '../clock.js';
import type { Tx } from '../store/repositories/index.js';
import type { LinkDelivery, MemberRole } from '../wire/management.js';
import { issueOneTimeToken } from './one-time-tokens.js';

/** How long an invitation or password link works. */
export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

/** An invitation to an organization, for the mail that carries it. */
export interface InvitationTo {
  org: { id: string; name: string };
  role: MemberRole;
}

/**
 * Makes the one-time links of invitations and new accounts and hands them over: the answer
 * carries the link for the administrator to pass on, and an account whose password is set
 * through it stays `email_verified: false` (docs/security-invitations.md).
 */
export class InvitationLinks {
  constructor(
    private readonly issuer: string,
    private readonly clock: Clock,
  ) {}

  /** A link for `user`: an invitation to `invitation.org`, or with null one that only sets the password. */
  async issue(tx: Tx, user: { id: string; email: string }, invitation: InvitationTo | null): Promise<LinkDelivery> {
    const token = await issueOneTimeToken(tx, 'invite', user.id, addMs(this.clock.now(), INVITE_TTL_MS), { orgId: invitation?.org.id ?? null, mailed: false });
    return { invite_url: `${this.issuer}/invite?token=${token}` };
  }
}
