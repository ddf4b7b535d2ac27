import nodemailer, { type Transporter } from 'nodemailer';

/** One plain-text mail to one address. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Sends the mails that carry one-time links (SMTP_URL). */
export interface Mailer {
  /** Resolves once the SMTP server has accepted the mail; rejects with a MailError otherwise. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * The mail could not be handed to the SMTP server. `recipientRefused`: the server refused the
 * address itself (a permanent 5xx answer to RCPT TO), which is the caller's input, not an outage.
 * The message names the failure only: never the mail, which carries a one-time link.
 */
export class MailError extends Error {
  override name = 'MailError';
  constructor(
    message: string,
    readonly recipientRefused: boolean,
  ) {
    super(message);
  }
}

/** Options nodemailer would read from the URL's query that must not apply: its logger prints whole mails, links included. */
const FORBIDDEN_OPTIONS = ['logger', 'debug', 'transactionLog'];

/** Seconds nodemailer waits, unless SMTP_URL's query says otherwise: a mail is sent inside the transaction that makes its link. */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/**
 * nodemailer over SMTP_URL (`smtp://user:pass@host:587`, `smtps://…:465`; query parameters are
 * nodemailer's SMTP options). One connection per mail: invitations are rare, and nothing stays
 * open in a process that sends none.
 */
export function smtpMailer(smtpUrl: string, from: string): Mailer {
  const url = new URL(smtpUrl);
  for (const option of FORBIDDEN_OPTIONS) url.searchParams.delete(option);
  for (const [option, ms] of Object.entries(TIMEOUTS)) if (!url.searchParams.has(option)) url.searchParams.set(option, String(ms));
  const transport: Transporter = nodemailer.createTransport(url.toString(), { from });
  return {
    async send(mail) {
      try {
        // One address the schema checked (no commas, spaces or quotes): nodemailer cannot read it as a list.
        await transport.sendMail({ to: mail.to, subject: mail.subject, text: mail.text });
      } catch (err) {
        throw mailError(err);
      }
    },
    close: () => transport.close(),
  };
}

function mailError(err: unknown): MailError {
  const e = (err ?? {}) as { code?: unknown; command?: unknown; responseCode?: unknown; message?: unknown };
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const refused = e.code === 'EENVELOPE' && e.command === 'RCPT TO' && status !== undefined && status >= 500;
  // nodemailer's message names the step and the server's answer ("Invalid login: 535 …"), never the mail.
  const detail = typeof e.message === 'string' ? e.message : String(err);
  return new MailError(`SMTP_URL: the mail could not be sent (${typeof e.code === 'string' ? `${e.code}: ` : ''}${detail})`, refused);
}
