import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../src/audit/actor.js';
import { testDatabases } from '../../helpers/databases.js';
import { call, createUser, PASSWORD, signIn, tokenOf, type Caller } from '../../helpers/management.js';
import { startPortcullis, type TestPortcullis } from '../../helpers/portcullis.js';

/**
 * Invitations without SMTP_URL: the adding admin receives the link. Adding an email never
 * makes anyone a member; only the owner of the account can accept, and an account whose
 * password came from a link an admin received shows as "email not verified" everywhere.
 */
describe.each(testDatabases())('invitations on $name', (db) => {
  let p: TestPortcullis;
  const logs: string[] = [];
  let orgA: string;
  let orgB: string;
  let alice: Caller;
  let bob: Caller;

  beforeAll(async () => {
    p = await startPortcullis(await db.open(), { env: { AUTH_FAILURES_PER_IP: '1000', LOG_LEVEL: 'info' }, logStream: { write: (line) => void logs.push(line) } });
    orgA = (await p.runtime.organizations.create({ name: 'Acme' }, SYSTEM_ACTOR)).id;
    orgB = (await p.runtime.organizations.create({ name: 'Bogus' }, SYSTEM_ACTOR)).id;
    await createUser(p.runtime, 'alice@acme.example', { orgId: orgA, role: 'admin' });
    await createUser(p.runtime, 'bob@bogus.example', { orgId: orgB, role: 'admin' });
    alice = await signIn(p.app, 'alice@acme.example');
    bob = await signIn(p.app, 'bob@bogus.example');
  });
  afterAll(async () => {
    await p?.close();
    await db.dispose();
  });

  const accept = (body: Record<string, unknown>, headers: Record<string, string> = {}) => p.app.inject({ method: 'POST', url: '/api/v1/invites/accept', headers, payload: body });
  const lookup = (token: string) => p.app.inject({ method: 'POST', url: '/api/v1/invites/lookup', payload: { token } });
  const membersOf = async (who: Caller, orgId: string) => (await call(p.app, who, 'GET', `/organizations/${orgId}/members`)).json().data as Record<string, unknown>[];

  it('the attack: an admin who chose the password of an account he added cannot act in another organization that adds the same email', async () => {
    const x = 'x@corp.example';
    // B's admin adds x, receives the invitation link, and sets the password himself.
    const addedByB = await call(p.app, bob, 'POST', `/organizations/${orgB}/members`, { email: x, role: 'admin' });
    expect(addedByB.statusCode).toBe(201);
    const hijacked = await accept({ token: tokenOf(addedByB.json().invite_url), name: 'X', password: 'bob chose this password' });
    expect(hijacked.statusCode).toBe(200);

    // Later A adds x.
    const addedByA = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: x, role: 'admin' });
    expect(addedByA.statusCode).toBe(201);

    // B's admin signs in as x: A is not among x's organizations, and every route of A is 404.
    const asX = await signIn(p.app, x, 'bob chose this password');
    expect((await call(p.app, asX, 'GET', '/me')).json().organizations).toEqual([{ id: orgB, name: 'Bogus', role: 'admin' }]);
    expect((await call(p.app, asX, 'GET', '/organizations')).json().data.map((o: { id: string }) => o.id)).toEqual([orgB]);
    for (const [method, url, body] of [
      ['GET', `/organizations/${orgA}`],
      ['GET', `/organizations/${orgA}/members`],
      ['GET', `/organizations/${orgA}/clients`],
      ['GET', `/organizations/${orgA}/audit-events`],
      ['POST', `/organizations/${orgA}/clients`, { name: 'backdoor', roles: ['client-manager'] }],
      ['POST', `/organizations/${orgA}/members`, { email: 'mallory@bogus.example', role: 'admin' }],
      ['PATCH', `/organizations/${orgA}/members/${addedByA.json().user_id}`, { role: 'admin' }],
    ] as const) {
      const res = await call(p.app, asX, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    // B's own link is used up, and it never was A's invitation.
    expect((await accept({ token: tokenOf(addedByB.json().invite_url), current_password: 'bob chose this password' })).statusCode).toBe(400);
    expect((await call(p.app, asX, 'POST', '/invites/accept', { token: tokenOf(addedByB.json().invite_url) })).statusCode).toBe(400);

    // What A was told: an invitation, to an account nothing shows the address's owner holds, and not who x is.
    expect(hijacked.json()).toMatchObject({ email: x, email_verified: false });
    expect(addedByA.json()).toMatchObject({ email: x, name: '', role: 'admin', status: 'invited', email_verified: false });

    // The real owner of x, given A's link, cannot take the account over either: it has a password they do not know.
    const aLink = tokenOf(addedByA.json().invite_url);
    expect((await lookup(aLink)).json()).toEqual({ email: x, organization: { id: orgA, name: 'Acme' }, role: 'admin', has_password: true });
    expect((await accept({ token: aLink, password: 'the real owner tries' })).statusCode).toBe(400);
    expect((await accept({ token: aLink, current_password: 'the real owner guesses' })).statusCode).toBe(400);

    // A sees x as invited and unverified; nothing was added to A by anyone but Alice.
    expect((await membersOf(alice, orgA)).find((m) => m.email === x)).toMatchObject({ name: '', status: 'invited', email_verified: false });
    expect((await membersOf(alice, orgA)).map((m) => m.email)).not.toContain('mallory@bogus.example');
    expect((await call(p.app, alice, 'GET', `/organizations/${orgA}/clients`)).json().data.map((c: { name: string }) => c.name)).not.toContain('backdoor');
  });

  it('an invitation grants nothing until the owner accepts it, signed in as the invited account', async () => {
    await createUser(p.runtime, 'carol@example.com');
    await createUser(p.runtime, 'dave@example.com');
    const added = await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'Carol@Example.com', role: 'member' });
    expect(added.statusCode).toBe(201);
    // The account exists; its name ('carol') is not told.
    expect(added.json()).toMatchObject({ email: 'carol@example.com', name: '', status: 'invited', email_verified: true });
    const token = tokenOf(added.json().invite_url);

    const carol = await signIn(p.app, 'carol@example.com');
    expect((await call(p.app, carol, 'GET', '/me')).json().organizations).toEqual([]);
    expect((await call(p.app, carol, 'GET', '/organizations')).json().data).toEqual([]);
    expect((await call(p.app, carol, 'GET', `/organizations/${orgA}`)).statusCode).toBe(404);

    // Signed in as someone else, or with the cookie but without its CSRF token: no proof.
    const dave = await signIn(p.app, 'dave@example.com');
    const asDave = await call(p.app, dave, 'POST', '/invites/accept', { token });
    expect(asDave.statusCode).toBe(400);
    expect(asDave.json().details).toEqual([{ field: '/body/current_password', message: 'required: sign in as the invited account or give its password' }]);
    expect((await accept({ token }, { cookie: `portcullis_session=${carol.cookie}` })).statusCode).toBe(400);

    const ok = await call(p.app, carol, 'POST', '/invites/accept', { token });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ email: 'carol@example.com', name: 'carol' });
    expect((await call(p.app, carol, 'GET', '/me')).json().organizations).toEqual([{ id: orgA, name: 'Acme', role: 'member' }]);
    expect((await call(p.app, carol, 'GET', `/organizations/${orgA}`)).statusCode).toBe(200);
    expect((await membersOf(alice, orgA)).find((m) => m.email === 'carol@example.com')).toMatchObject({ name: 'carol', status: 'active' });
    expect((await call(p.app, carol, 'POST', '/invites/accept', { token })).statusCode).toBe(400);
  });

  it('an existing account accepts with its current password; wrong guesses are throttled like sign-in', async () => {
    await createUser(p.runtime, 'erin@example.com');
    const token = tokenOf((await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'erin@example.com', role: 'member' })).json().invite_url);
    const withPassword = await accept({ token, password: 'a brand new password' });
    expect(withPassword.statusCode).toBe(400);
    expect(withPassword.json().details).toEqual([{ field: '/body/password', message: 'not allowed: the account has a password' }]);
    expect((await accept({ token })).statusCode).toBe(400);
    for (let i = 0; i < 10; i++) {
      const wrong = await accept({ token, current_password: `guess ${i}` });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toEqual({ error: 'invalid_request', message: 'The password is wrong.', details: [{ field: '/body/current_password', message: 'wrong password' }] });
    }
    const locked = await accept({ token, current_password: PASSWORD });
    expect(locked.statusCode).toBe(429);
    // Sign-in counts the same failures.
    expect((await p.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'erin@example.com', password: PASSWORD } })).statusCode).toBe(429);
    p.clock.advance(301);
    const ok = await accept({ token, current_password: PASSWORD });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await membersOf(alice, orgA)).find((m) => m.email === 'erin@example.com')).toMatchObject({ status: 'active' });
    alice = await signIn(p.app, 'alice@acme.example');
    bob = await signIn(p.app, 'bob@bogus.example');
  });

  it('of two links to one new account used at once, one chooses the password; the other then needs it', async () => {
    const email = 'fresh@corp.example';
    const fromA = (await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email, role: 'member' })).json();
    const fromB = (await call(p.app, bob, 'POST', `/organizations/${orgB}/members`, { email, role: 'member' })).json();
    expect(fromB).toMatchObject({ status: 'invited', email_verified: false });
    const [a, b] = await Promise.all([
      accept({ token: tokenOf(fromA.invite_url), password: 'password chosen via A' }),
      accept({ token: tokenOf(fromB.invite_url), password: 'password chosen via B' }),
    ]);
    const statuses = [a.statusCode, b.statusCode];
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.find((s) => s !== 200)).toBeOneOf([400, 409]);
    const [winner, loser, winnerPassword] = a.statusCode === 200 ? [fromA, fromB, 'password chosen via A'] : [fromB, fromA, 'password chosen via B'];
    expect(winner.user_id).toBe(loser.user_id);
    // The losing link was not used up: the account's owner accepts it with the password now set.
    expect((await accept({ token: tokenOf(loser.invite_url), password: 'yet another password' })).statusCode).toBe(400);
    const later = await accept({ token: tokenOf(loser.invite_url), current_password: winnerPassword });
    expect(later.statusCode, later.body).toBe(200);
    const owner = await signIn(p.app, email, winnerPassword);
    expect(
      (await call(p.app, owner, 'GET', '/me'))
        .json()
        .organizations.map((o: { id: string }) => o.id)
        .sort(),
    ).toEqual([orgA, orgB].sort());
  });

  it('a withdrawn invitation stops working, and an invited admin does not count as an admin', async () => {
    const added = (await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'pending@corp.example', role: 'admin' })).json();
    const aliceId = (await membersOf(alice, orgA)).find((m) => m.email === 'alice@acme.example')?.user_id;
    const demote = await call(p.app, alice, 'PATCH', `/organizations/${orgA}/members/${aliceId}`, { role: 'member' });
    expect(demote.statusCode).toBe(409);
    // The role an invitation offers can change; removing it withdraws it.
    expect((await call(p.app, alice, 'PATCH', `/organizations/${orgA}/members/${added.user_id}`, { role: 'member' })).json()).toMatchObject({ role: 'member', status: 'invited' });
    expect((await lookup(tokenOf(added.invite_url))).json()).toMatchObject({ role: 'member', has_password: false });
    expect((await call(p.app, alice, 'DELETE', `/organizations/${orgA}/members/${added.user_id}`)).statusCode).toBe(204);
    expect((await lookup(tokenOf(added.invite_url))).statusCode).toBe(400);
    const late = await accept({ token: tokenOf(added.invite_url), password: 'too late for this one' });
    expect(late.statusCode).toBe(400);
    expect(late.json().details).toEqual([{ field: '/body/token', message: 'invalid, used or expired' }]);
    // Invited again: a new link, which works.
    const again = (await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'pending@corp.example', role: 'member' })).json();
    expect((await accept({ token: tokenOf(again.invite_url), password: 'in time for this one' })).statusCode).toBe(200);
  });

  it('refuses malformed and unknown tokens with 400, never 500', async () => {
    for (const body of [{}, { token: '' }, { token: 'x'.repeat(201) }, { token: 'nope' }, { token: 'nope', extra: 1 }, { token: 'nope', password: 'short' }, { token: '\u0000\ud800' }]) {
      const res = await accept(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect((await p.app.inject({ method: 'POST', url: '/api/v1/invites/lookup', payload: body })).statusCode, JSON.stringify(body)).toBe(400);
    }
  });

  it('records invitations and acceptances in the audit log, and no link token in it or in the log', async () => {
    const added = (await call(p.app, alice, 'POST', `/organizations/${orgA}/members`, { email: 'gina@corp.example', role: 'member' })).json();
    const token = tokenOf(added.invite_url);
    await lookup(token);
    expect((await accept({ token, password: 'gina chose this one' })).statusCode).toBe(200);
    const events = await call(p.app, alice, 'GET', `/organizations/${orgA}/audit-events?limit=200`);
    const gina = (events.json().data as { action: string; target: { id: string }; details: unknown }[]).filter((e) => e.target.id === added.user_id);
    expect(gina.map((e) => e.action)).toEqual(['member.joined', 'member.invited']);
    expect(gina[0]).toMatchObject({ details: { email: 'gina@corp.example', role: 'member' } });
    expect(events.body).not.toContain(token);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(token);
    expect(logs.join('\n')).not.toContain('gina chose this one');
  });
});
