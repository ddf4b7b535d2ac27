import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import { launchBrowser, newContext, screenshots, seedCatalog, signInThroughForm, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { PASSWORD, createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

/**
 * Issue 4, flow 8 and the rules around every flow: an organization's Members and Audit
 * log pages for its admins, members who only look, and a session that ends mid-work.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium: members, audit log, read-only members', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let acme: string;
  let clientId: string;
  const shot = screenshots('organization');

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    const { runtime } = server;
    await seedCatalog(runtime);
    acme = (await runtime.organizations.create({ name: 'Acme Energy' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'dana@acme.example.com', { orgId: acme, role: 'admin' });
    await createUser(runtime, 'max@acme.example.com', { orgId: acme, role: 'member' });
    await createUser(runtime, 'olga@acme.example.com');
    clientId = (await runtime.clients.create(acme, { name: 'Meter daemon', roles: ['meter-reader'] }, SYSTEM_ACTOR)).client.client_id;
    admin = await newContext(browser, server.issuer);
    page = await admin.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const row = (text: string): Locator => page.getByRole('row').filter({ hasText: text });
  const members = async () =>
    ((await (await page.request.get(`/api/v1/organizations/${acme}/members`)).json()) as { data: { email: string; role: string; status: string }[] }).data
      .map((m) => `${m.email}:${m.role}${m.status === 'active' ? '' : `:${m.status}`}`)
      .sort();

  it('shows a member the clients but no button that changes them', async () => {
    const context = await newContext(browser, server.issuer);
    const max = await context.newPage();
    await signInThroughForm(max, 'max@acme.example.com');
    await max.waitForURL(`**/organizations/${acme}/api`);
    const card = max.getByRole('listitem').filter({ hasText: 'Meter daemon' });
    await card.waitFor();
    expect(await card.innerText()).toContain(clientId);
    expect(await card.getByRole('button', { name: 'Copy client ID' }).count()).toBe(1);
    for (const name of ['Create client', 'Delete Meter daemon', 'Rotate secret of Meter daemon', 'Edit roles of Meter daemon']) {
      expect(await max.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await max.getByRole('navigation', { name: 'My organization' }).getByRole('link').allInnerTexts()).toEqual(['API']);
    await shot(max, 'member-read-only');
    await max.goto(`/organizations/${acme}/members`);
    await max.getByText('only organization admins may see it').waitFor();
    await context.close();
  });

  it("lets an admin invite a member, who accepts with their password, change a role and remove one; a refusal shows in the member's row", async () => {
    await signInThroughForm(page, 'dana@acme.example.com');
    await page.getByRole('navigation', { name: 'My organization' }).getByRole('link', { name: 'Members' }).click();
    await page.waitForURL(`**/organizations/${acme}/members`);
    await row('max@acme.example.com').waitFor();
    expect(await row('dana@acme.example.com').innerText()).toContain('You');

    // An existing account is invited too: it becomes a member only when its owner accepts.
    await page.getByRole('button', { name: 'Add member' }).click();
    const add = page.getByRole('dialog', { name: 'Add member' });
    await add.getByLabel('Email').fill('olga@acme.example.com');
    await add.getByRole('button', { name: 'Add member' }).click();
    const invitation = page.getByRole('dialog', { name: 'Invitation link' });
    await invitation.waitFor();
    expect(await invitation.innerText()).toContain('olga@acme.example.com is invited. Send them this link: they become a member once they accept.');
    expect(await invitation.innerText()).not.toContain('Email not verified');
    const inviteUrl = await invitation.locator('code').innerText();
    expect(inviteUrl).toMatch(new RegExp(`^${server.issuer}/invite\\?token=\\S+$`));
    await shot(page, 'member-invited');
    await invitation.getByRole('button', { name: 'Done' }).click();
    expect(await row('olga@acme.example.com').innerText()).toContain('Invitation pending');
    expect(await members()).toEqual(['dana@acme.example.com:admin', 'max@acme.example.com:member', 'olga@acme.example.com:member:invited']);

    // Olga opens the link in her own browser: her account has a password, which she gives to accept.
    const olgaContext = await newContext(browser, server.issuer);
    const olga = await olgaContext.newPage();
    await olga.goto(inviteUrl);
    await olga.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
    expect(await olga.locator('.auth-intro').innerText()).toContain('You are invited to join Acme Energy as a member.');
    await olga.getByLabel('Password').fill('not her password');
    await olga.getByRole('button', { name: 'Accept invitation' }).click();
    expect(await olga.getByRole('alert').innerText()).toBe('The password is wrong.');
    await olga.getByLabel('Password').fill(PASSWORD);
    await shot(olga, 'invite-existing-account');
    await olga.getByRole('button', { name: 'Accept invitation' }).click();
    await olga.waitForURL(`**/organizations/${acme}/api`);
    await olgaContext.close();
    expect(await members()).toEqual(['dana@acme.example.com:admin', 'max@acme.example.com:member', 'olga@acme.example.com:member']);
    await page.reload();
    expect(await row('olga@acme.example.com').innerText()).toContain('Active');

    // Dana is the only admin: the server refuses to demote her, and says why, in her row.
    await page.getByLabel('Role of dana@acme.example.com').selectOption('member');
    const refusal = row('dana@acme.example.com').getByRole('alert');
    expect(await refusal.innerText()).toBe('An organization needs at least one admin; make someone else admin first.');
    expect(await page.getByLabel('Role of dana@acme.example.com').inputValue()).toBe('admin');
    await shot(page, 'members-refusal-in-row');

    await page.getByLabel('Role of max@acme.example.com').selectOption('admin');
    await expect.poll(members).toEqual(['dana@acme.example.com:admin', 'max@acme.example.com:admin', 'olga@acme.example.com:member']);

    await row('olga@acme.example.com').getByRole('button', { name: 'Remove olga@acme.example.com' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove olga@acme.example.com?' });
    await confirm.getByRole('button', { name: 'Remove member' }).click();
    await row('olga@acme.example.com').waitFor({ state: 'detached' });
    expect(await members()).toEqual(['dana@acme.example.com:admin', 'max@acme.example.com:admin']);
    await shot(page, 'members-page');
  });

  it('lists who did what in the audit log, newest first', async () => {
    await page.getByRole('navigation', { name: 'My organization' }).getByRole('link', { name: 'Audit log' }).click();
    const table = page.getByRole('table', { name: 'Audit events' });
    await table.waitFor();
    const rows = await table.locator('tbody tr').allInnerTexts();
    const dana = 'dana';
    expect(rows[0]).toMatch(new RegExp(`${dana}\\tRemoved member`));
    expect(rows[1]).toMatch(new RegExp(`${dana}\\tChanged member role[\\s\\S]*role: member → admin`));
    expect(rows[2]).toMatch(/\tAccepted invitation/);
    expect(rows[3]).toMatch(new RegExp(`${dana}\\tInvited member`));
    expect(rows.some((r) => /Portcullis\tCreated client[\s\S]*Meter daemon/.test(r))).toBe(true);
    expect(rows.join('\n')).not.toContain('pcs_');
    await shot(page, 'audit-log');
  });

  it('sends a person whose session ended to sign in, and back to where they were', async () => {
    // Signing out in another tab ends the session this page still holds.
    const other = await admin.newPage();
    await other.goto(`/organizations/${acme}/api`);
    await other.getByRole('button', { name: 'User' }).click();
    await other.getByRole('menuitem', { name: 'Sign out' }).click();
    await other.waitForURL('**/signin');
    await other.close();

    await page.getByRole('navigation', { name: 'My organization' }).getByRole('link', { name: 'Members' }).click();
    await page.waitForURL(/\/signin\?next=/);
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    await shot(page, 'session-ended');
    await page.getByLabel('Email').fill('dana@acme.example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/organizations/${acme}/members`);
    await row('max@acme.example.com').waitFor();
  });
});
