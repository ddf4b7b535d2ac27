import { addMs, type Clock } from '../clock.js';
import { InvalidInputError, UnavailableError } from '../errors/domain-errors.js';
import type { Tx } from '../store/repositories/index.js';
import type { LinkDelivery, MemberRole } from '../wire/management.js';
import { MailError, type Mailer } from './mailer.js';
import { issueOneTimeToken } from './one-time-tokens.js';

/** How long an invitation or password link works. */
export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

/** An invitation to an organization, for the mail that carries it. */
export interface InvitationTo {
  org: { id: string; name: string };
  role: MemberRole;
}

/**
 * Makes the one-time links of invitations and new accounts and hands them over. With a mailer
 * (SMTP_URL) the link goes to the user's address and never into an answer, and the token
 * records that it was mailed: whoever uses it has shown they read that mailbox. Without one,
 * the answer carries the link for the administrator to pass on, and an account whose password
 * is set through it stays `email_verified: false` (docs/security.md).
 */
export class InvitationLinks {
  constructor(
    private readonly issuer: string,
    private readonly clock: Clock,
    private readonly mailer: Mailer | undefined,
  ) {}

  /**
   * A link for `user`: an invitation to `invitation.org`, or with null one that only sets the
   * password. Call it last in the transaction: a mail that cannot be sent undoes the change.
   */
  async issue(tx: Tx, user: { id: string; email: string }, invitation: InvitationTo | null): Promise<LinkDelivery> {
    const mailed = this.mailer !== undefined;
    const token = await issueOneTimeToken(tx, 'invite', user.id, addMs(this.clock.now(), INVITE_TTL_MS), { orgId: invitation?.org.id ?? null, mailed });
    const url = `${this.issuer}/invite?token=${token}`;
    if (!this.mailer) return { invite_url: url };
    try {
      await this.mailer.send({ to: user.email, ...(invitation ? invitationMail(invitation, url) : accountMail(user.email, this.issuer, url)) });
    } catch (err) {
      if (err instanceof MailError && err.recipientRefused) {
        throw new InvalidInputError('The mail server refused this address.', [{ path: ['email'], message: 'refused by the mail server' }]);
      }
      // The transaction rolls back: nothing was created, and the caller may simply retry.
      if (err instanceof MailError) throw new UnavailableError('The mail server cannot be reached; retry later.', { cause: err });
      throw err;
    }
    return { invite_sent: true };
  }
}

/** Text that an administrator chose, on one line (it goes into a subject). */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ').trim();
}

function invitationMail(invitation: InvitationTo, url: string): { subject: string; text: string } {
  const org = oneLine(invitation.org.name);
  return {
    subject: `Invitation to ${org} on Portcullis`,
    text: [
      `You have been invited to join the organization "${org}" on Portcullis as ${invitation.role === 'admin' ? 'an admin' : 'a member'}.`,
      '',
      'To accept, open this link:',
      url,
      '',
      'It works once, for 7 days. If you did not expect this invitation, ignore this mail: nothing changes until you accept.',
      '',
    ].join('\n'),
  };
}

function accountMail(email: string, issuer: string, url: string): { subject: string; text: string } {
  return {
    subject: 'Your Portcullis account',
    text: [`An account for ${email} has been created on Portcullis (${issuer}).`, '', 'Choose your password here:', url, '', 'The link works once, for 7 days.', ''].join('\n'),
  };
}
