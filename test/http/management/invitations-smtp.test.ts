import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { testDatabases } from '../../helpers/databases.js';
import { linkIn, startMailServer, type TestMailServer } from '../../helpers/mail.js';
import { call, createUser, PASSWORD, signIn, tokenOf, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';

/**
 * With SMTP_URL, invitations and password links go to the address by mail (a real SMTP server
 * here, smtp-server on a free port) and never into an answer: whoever uses one has shown they
 * read that mailbox, and the account is `email_verified`.
 */
describe.each(testDatabases())('invitations mailed through SMTP_URL on $name', (db) => {
  let p: TestPortcullis;
  let smtp: TestMailServer;
  const logs: string[] = [];
  let orgA: string;
  let orgB: string;
  let root: Caller;
  let alice: Caller;
  let bob: Caller;

  beforeAll(async () => {
    smtp = await startMailServer();
    p = await startPortcullis(await db.open(), { env: { SMTP_URL: smtp.url, LOG_LEVEL: 'info' }, logStream: { write: (line) => void logs.push(line) } });
    orgA = (await p.runtime.organizations.create({ name: 'Acme' }, SYSTEM_ACTOR)).id;
    orgB = (await p.runtime.organizations.create({ name: 'Bogus' }, SYSTEM_ACTOR)).id;
    await createUser(p.runtime, 'root@example.com', { platformAdmin: true });
    root = await signIn(p.app, 'root@example.com');
    for (const [email, orgId, name] of [
      ['alice@acme.example', orgA, 'Acme'],
      ['bob@bogus.example', orgB, 'Bogus'],
    ] as const) {
      await createUser(p.runtime, email);
      // The helpers' shortcut needs the link in the answer; here it comes by mail.
      await p.runtime.memberships.add(orgId, { email, role: 'admin' }, SYSTEM_ACTOR);
      const mail = await smtp.next(email);
      expect(mail.subject).toBe(`Invitation to ${name} on Portcullis`);
      await p.runtime.users.acceptInvite(tokenOf(linkIn(mail)), { current_password: PASSWORD }, { signedInUserId: undefined, ip: '127.0.0.1' });
    }
    alice = await signIn(p.app, 'alice@acme.example');
    bob = await signIn(p.app, 'bob@bogus.example');
  });
  afterAll(async () => {
    await p?.close();
    await smtp?.close();
    await db.dispose();
  });

  const accept = (body: Record<string, unknown>) => p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', payload: body });

  it("mails the invitation to the address and never answers it: B's admin cannot choose the password of an account he adds", async () => {
    const x = 'x@corp.example';
    const addedByB = await call(p.app, bob, 'POST', `/organizations/${orgB}/members`, { email: x, role: 'admin' });
    expect(addedByB.statusCode).toBe(201);
    expect(addedByB.json()).toMatchObject({ email: x, status: 'invited', email_verified: false, invite_sent: true });
    expect(addedByB.json().invite_url).toBeUndefined();
    expect(addedByB.body).not.toMatch(/token/i);

    const mail = await smtp.next(x);
    expect(mail).toMatchObject({ to: [x], from: 'no-reply@localhost', subject: 'Invitation to Bogus on Portcullis' });
    expect(mail.text).toContain('You have been invited to join the organization "Bogus" on Portcullis as an admin.');
    const link = linkIn(mail);
    expect(link).toMatch(/^http:\/\/localhost:8080\/invite\?token=[0-9A-Za-z]{43}$/);
    expect(addedByB.body).not.toContain(tokenOf(link));

    // The owner of the mailbox follows the link: it works once, and shows they read the address.
    expect((await p.app.inject({ method: 'POST', url: '/api/v1/invites/lookup', payload: { token: tokenOf(link) } })).json()).toEqual({
      email: x,
      organization: { id: orgB, name: 'Bogus' },
      role: 'admin',
      has_password: false,
    });
    const accepted = await accept({ token: tokenOf(link), name: 'Xavier', password: 'chosen by the owner of x' });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(accepted.json()).toMatchObject({ email: x, name: 'Xavier', email_verified: true });
    expect((await accept({ token: tokenOf(link), password: 'chosen by someone else' })).statusCode).toBe(400);

    // A invites the same address: mailed again; the account's owner accepts signed in.
    const addedByA = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: x, role: 'member' });
    expect(addedByA.json()).toMatchObject({ email: x, name: '', status: 'invited', email_verified: true, invite_sent: true });
    const aLink = linkIn(await smtp.next(x));
    const asX = await signIn(p.app, x, 'chosen by the owner of x');
    expect((await call(p.app, asX, 'GET', '/me')).json().organizations).toEqual([{ id: orgB, name: 'Bogus', role: 'admin' }]);
    expect((await call(p.app, asX, 'POST', '/invites/accept', { token: tokenOf(aLink) })).statusCode).toBe(200);
    expect(
      (await call(p.app, asX, 'GET', '/me'))
        .json()
        .organizations.map((o: { id: string }) => o.id)
        .sort(),
    ).toEqual([orgA, orgB].sort());
    expect(logs.join('\n')).not.toContain(tokenOf(link));
    expect(logs.join('\n')).not.toContain(tokenOf(aLink));
  });

  it('mails the password link of a user a platform admin creates without a password', async () => {
    const created = await call(p.app, root, 'POST', '/users', { email: 'ops@example.com', name: 'Ops' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ email: 'ops@example.com', has_password: false, email_verified: false, invite_sent: true });
    expect(created.json().invite_url).toBeUndefined();
    const mail = await smtp.next('ops@example.com');
    expect(mail.subject).toBe('Your Portcullis account');
    const ok = await accept({ token: tokenOf(linkIn(mail)), password: 'ops chose this password' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ has_password: true, email_verified: true });
    await signIn(p.app, 'ops@example.com', 'ops chose this password');
  });

  it('an unverified account that accepts a mailed invitation with its password becomes verified', async () => {
    const user = await createUser(p.runtime, 'late@example.com');
    await p.runtime.store.data.read.users.update(user.id, { email_verified: false, updated_at: p.clock.now() });
    const added = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'late@example.com', role: 'member' });
    expect(added.json()).toMatchObject({ email_verified: false, invite_sent: true });
    const ok = await accept({ token: tokenOf(linkIn(await smtp.next('late@example.com'))), current_password: PASSWORD });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().email_verified).toBe(true);
    expect((await call(p.app, alice, 'GET', `/organizations/${orgA}/members`)).json().data.find((m: { email: string }) => m.email === 'late@example.com')).toMatchObject({
      status: 'active',
      email_verified: true,
    });
  });

  it('an address the mail server refuses is 400 on the email, and nothing is created', async () => {
    const res = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'nobody@refused.example', role: 'member' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', message: 'The mail server refused this address.', details: [{ field: '/body/email', message: 'refused by the mail server' }] });
    expect((await call(p.app, alice, 'GET', `/organizations/${orgA}/members`)).json().data.map((m: { email: string }) => m.email)).not.toContain('nobody@refused.example');
    const users = (await call(p.app, root, 'GET', '/users?limit=200')).json().data.map((u: { email: string }) => u.email);
    expect(users).not.toContain('nobody@refused.example');
    expect((await call(p.app, root, 'POST', '/users', { email: 'someone@refused.example' })).statusCode).toBe(400);
  });

  it('when the mail cannot be sent, the invitation is undone and the log names SMTP_URL, not the link', async () => {
    await smtp.close();
    const res = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'unlucky@corp.example', role: 'member' });
    // Not an input problem: the server's own mail relay is unreachable; retry later.
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'unavailable', message: 'The mail server cannot be reached; retry later.' });
    expect(res.headers['retry-after']).toBe('5');
    expect((await call(p.app, alice, 'GET', `/organizations/${orgA}/members`)).json().data.map((m: { email: string }) => m.email)).not.toContain('unlucky@corp.example');
    const line = logs.find((l) => l.includes('SMTP_URL: the mail could not be sent'));
    expect(line).toBeDefined();
    expect(line).not.toMatch(/invite\?token=/);
  });
});
