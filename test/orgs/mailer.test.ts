import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MailError, smtpMailer } from '../../src/orgs/mailer.js';
import { startMailServer, type TestMailServer } from '../helpers/mail.js';

describe('smtpMailer (nodemailer over SMTP_URL)', () => {
  let smtp: TestMailServer;
  beforeAll(async () => {
    smtp = await startMailServer();
  });
  afterAll(async () => {
    await smtp?.close();
  });

  it('sends one plain-text mail from the configured address', async () => {
    const mailer = smtpMailer(smtp.url, 'Ops <ops@example.com>');
    try {
      await mailer.send({ to: 'someone@example.com', subject: 'Hello', text: 'A line\nand another\n' });
    } finally {
      mailer.close();
    }
    expect(await smtp.next('someone@example.com')).toEqual({ to: ['someone@example.com'], from: 'ops@example.com', subject: 'Hello', text: 'A line\nand another\n' });
  });

  it("ignores nodemailer's logger and debug options in SMTP_URL: they would print whole mails, links included", async () => {
    const printed: string[] = [];
    const capture = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    const spies = [vi.spyOn(console, 'log').mockImplementation(capture), vi.spyOn(console, 'info').mockImplementation(capture), vi.spyOn(console, 'debug').mockImplementation(capture)];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const mailer = smtpMailer(`${smtp.url}/?logger=true&debug=true&transactionLog=true`, 'ops@example.com');
    try {
      await mailer.send({ to: 'quiet@example.com', subject: 'Link', text: 'https://auth.example.com/invite?token=doNotPrintThisToken\n' });
    } finally {
      mailer.close();
      write.mockRestore();
      for (const spy of spies) spy.mockRestore();
    }
    expect((await smtp.next('quiet@example.com')).text).toContain('doNotPrintThisToken');
    expect(printed.join('\n')).not.toContain('doNotPrintThisToken');
  });

  it('tells a refused recipient (5xx to RCPT TO) from an unreachable server, naming neither the mail nor the password', async () => {
    const mailer = smtpMailer(smtp.url, 'ops@example.com');
    const refused = await mailer.send({ to: 'nobody@refused.example', subject: 's', text: 'token=abc' }).catch((e: unknown) => e);
    mailer.close();
    expect(refused).toBeInstanceOf(MailError);
    expect((refused as MailError).recipientRefused).toBe(true);

    const down = smtpMailer('smtp://user:s3cret-pass@127.0.0.1:1/?connectionTimeout=2000', 'ops@example.com');
    const failed = await down.send({ to: 'someone@example.com', subject: 's', text: 'token=abc' }).catch((e: unknown) => e);
    down.close();
    expect(failed).toBeInstanceOf(MailError);
    expect((failed as MailError).recipientRefused).toBe(false);
    expect((failed as MailError).message).toMatch(/^SMTP_URL: the mail could not be sent/);
    expect((failed as MailError).message).not.toContain('s3cret-pass');
    expect((failed as MailError).message).not.toContain('token=abc');
  });
});
