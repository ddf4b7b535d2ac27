import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import {
  PHONE,
  clipboardText,
  expectNoHorizontalScroll,
  expectRefused,
  expectToken,
  launchBrowser,
  newContext,
  screenshots,
  seedCatalog,
  signInThroughForm,
  skipBrowserTests,
  skipReason,
  warnIfSkipped,
} from '../helpers/browser.js';
import { createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

/**
 * Issue 15, item 2: the whole organization-admin path on a phone (390×844, touch): sign in,
 * create a client with roles, copy its secret, rotate, change roles, delete, and the OAuth2
 * developers page; then every other page. No page is wider than the screen, and every button
 * the path uses can be tapped (Playwright refuses to tap a control that something covers).
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium on a phone', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let audience: string;
  let acme: string;
  const shot = screenshots('phone');
  const consoleProblems: string[] = [];
  const daemon = { id: '', secret: '' };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    const { runtime } = server;
    audience = await seedCatalog(runtime);
    acme = (await runtime.organizations.create({ name: 'Acme Energy Distribution Services' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'dana.longname-administrator@acme-energy.example.com', { orgId: acme, role: 'admin' });
    await createUser(runtime, 'riley@platform.example.com', { platformAdmin: true });
    context = await newContext(browser, server.issuer, { phone: true });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleProblems.push(`${m.type()}: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const card = (name: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });
  const dialog = (name: string | RegExp): Locator => page.getByRole('dialog', { name });
  /** A dialog fits the screen, and so does the page behind it. */
  const expectFits = async (locator: Locator) => {
    const box = (await locator.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    await expectNoHorizontalScroll(page);
  };

  it('signs in, and the current organization is named at the top', async () => {
    await page.goto('/signin');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectNoHorizontalScroll(page);
    await signInThroughForm(page, 'dana.longname-administrator@acme-energy.example.com');
    await page.waitForURL(`**/organizations/${acme}/api`);
    await page.getByRole('heading', { name: 'No clients yet' }).waitFor();
    const org = page.getByTestId('current-org');
    expect(await org.isVisible()).toBe(true);
    expect(await org.innerText()).toBe('Acme Energy Distribution Services');
    await expectNoHorizontalScroll(page);
    await shot(page, 'clients-empty');
  });

  it('creates a client with two roles: the dialog fits, Save can be tapped, the secret is shown and copied', async () => {
    await page.getByRole('button', { name: 'Create client' }).first().tap();
    const form = dialog('Create client');
    await form.waitFor();
    await expectFits(form);
    await form.getByLabel('Name').fill('Meter daemon');
    await form.getByRole('checkbox', { name: /Meter reader/ }).tap();
    await form.getByRole('checkbox', { name: /Meter writer/ }).tap();
    await shot(page, 'create-client');
    await form.getByRole('button', { name: 'Save' }).tap();
    await form.waitFor({ state: 'detached' });

    const created = card('Meter daemon');
    await created.getByTestId('client-secret').waitFor();
    daemon.secret = await created.getByTestId('client-secret').innerText();
    daemon.id = (await created.getAttribute('data-client-id'))!;
    await expectNoHorizontalScroll(page);
    // The whole card is on screen: the secret's hint and Rotate too.
    for (const part of [created, created.locator('.secret-hint'), created.getByRole('button', { name: 'Rotate secret of Meter daemon' })]) {
      const box = (await part.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    }
    await created.getByRole('button', { name: 'Copy client secret' }).tap();
    expect(await clipboardText(page)).toBe(daemon.secret);
    await created.getByRole('button', { name: 'Copy client ID' }).tap();
    expect(await clipboardText(page)).toBe(daemon.id);
    await created.getByTestId('client-secret').scrollIntoViewIfNeeded();
    await shot(page, 'client-secret-shown');
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:read meters:write');
  });

  it('rotates the secret', async () => {
    const client = card('Meter daemon');
    await client.getByRole('button', { name: 'Rotate secret of Meter daemon' }).tap();
    const confirm = dialog('Rotate client secret');
    await confirm.waitFor();
    await expectFits(confirm);
    await shot(page, 'rotate-secret');
    await confirm.getByRole('button', { name: 'Rotate secret' }).tap();
    await confirm.waitFor({ state: 'detached' });
    const secret = await client.getByTestId('client-secret').innerText();
    expect(secret).not.toBe(daemon.secret);
    await client.getByRole('button', { name: 'Copy client secret' }).tap();
    expect(await clipboardText(page)).toBe(secret);
    await expectNoHorizontalScroll(page);
    await expectRefused(server.issuer, daemon.id, daemon.secret, audience);
    daemon.secret = secret;
  });

  it('changes the roles: the two lists stack, Save can be tapped', async () => {
    const client = card('Meter daemon');
    await client.getByRole('button', { name: 'Edit roles of Meter daemon' }).tap();
    const roles = dialog('Roles');
    await roles.waitFor();
    await expectFits(roles);
    await roles.getByRole('button', { name: 'Remove Meter writer' }).tap();
    await shot(page, 'client-roles');
    await roles.getByRole('button', { name: 'Save' }).tap();
    await roles.waitFor({ state: 'detached' });
    expect(await client.locator('.badge').allInnerTexts()).toEqual(['Meter reader']);
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:read');
  });

  it('opens Settings → Developers → OAuth2: endpoints and a curl example with the client ID, all within the screen', async () => {
    await page.getByRole('button', { name: 'Settings' }).tap();
    await page.getByRole('menuitem', { name: 'Developers' }).tap();
    await page.waitForURL('**/settings/developers/oauth2');
    await page.getByRole('heading', { name: 'OAuth2', exact: true }).waitFor();
    await card('Meter daemon').waitFor();
    await page.getByRole('region', { name: 'Token endpoint' }).locator('code').first().waitFor();
    await expectNoHorizontalScroll(page);
    await shot(page, 'developers-oauth2-endpoints');
    await card('Meter daemon').getByText('Get a token with curl').tap();
    const copy = card('Meter daemon').getByRole('button', { name: 'Copy curl example for /oauth2/token of Meter daemon' });
    await copy.tap();
    expect(await clipboardText(page)).toContain(`--user '${daemon.id}:<client secret>'`);
    await expectNoHorizontalScroll(page);
    await shot(page, 'developers-oauth2');
    await copy.scrollIntoViewIfNeeded();
    await shot(page, 'developers-oauth2-curl');
  });

  it('deletes the client', async () => {
    await page.goto(`/organizations/${acme}/api`);
    const client = card('Meter daemon');
    await client.getByRole('button', { name: 'Delete Meter daemon' }).tap();
    const confirm = dialog('Delete Meter daemon?');
    await confirm.waitFor();
    await expectFits(confirm);
    await shot(page, 'delete-client');
    await confirm.getByRole('button', { name: 'Delete client' }).tap();
    await client.waitFor({ state: 'detached' });
    await expectRefused(server.issuer, daemon.id, daemon.secret, audience);
  });

  it("fits every other page of an organization admin, and the Add member dialog's button can be tapped", async () => {
    for (const path of [`/organizations/${acme}/api/roles`, `/organizations/${acme}/members`, `/organizations/${acme}/audit-log`]) {
      await page.goto(path);
      await page.locator('main h1').waitFor();
      await page.getByRole('status').waitFor({ state: 'detached' }); // loaded
      await expectNoHorizontalScroll(page);
      await shot(page, path.split('/').at(-1)!);
    }
    await page.goto(`/organizations/${acme}/members`);
    await page.getByRole('button', { name: 'Add member' }).tap();
    const add = dialog('Add member');
    await add.waitFor();
    await shot(page, 'add-member');
    await expectFits(add);
    await add.getByLabel('Email').fill('new.person@acme-energy.example.com');
    await add.getByRole('button', { name: 'Add member' }).tap();
    const invitation = dialog('Invitation link');
    await invitation.waitFor();
    await expectFits(invitation);
    expect(await invitation.innerText()).not.toContain('member now');
    await invitation.getByRole('button', { name: 'Done' }).tap();
    await expectNoHorizontalScroll(page);
    for (const menu of ['User', 'Settings']) {
      await page.getByRole('button', { name: menu }).tap();
      const box = (await page.getByRole('menu', { name: menu }).boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
      await page.keyboard.press('Escape');
    }
  });

  it("fits every platform administrator's page", async () => {
    await page.getByRole('button', { name: 'User' }).tap();
    await page.getByRole('menuitem', { name: 'Sign out' }).tap();
    await page.waitForURL('**/signin');
    await signInThroughForm(page, 'riley@platform.example.com');
    for (const path of ['/admin/apis', '/admin/roles', '/admin/organizations', '/admin/users']) {
      await page.goto(path);
      await page.locator('main h1').waitFor();
      await page.getByRole('status').waitFor({ state: 'detached' });
      await expectNoHorizontalScroll(page);
      await shot(page, `admin-${path.split('/').at(-1)!}`);
    }
    await page.goto('/settings/developers/oauth2');
    await page.getByRole('heading', { name: 'OAuth2', exact: true }).waitFor();
    await expectNoHorizontalScroll(page);
    await page.goto('/no/such/page');
    await page.getByRole('heading', { name: 'Nothing here' }).waitFor();
    await expectNoHorizontalScroll(page);
    expect(consoleProblems).toEqual([]);
  });

  it('fits the pages of a link: setup and invitation', async () => {
    await page.goto('/setup?token=not-a-real-token');
    await page.getByRole('heading', { name: 'Set up Portcullis' }).waitFor();
    await expectNoHorizontalScroll(page);
    await page.goto('/invite?token=not-a-real-token');
    await page.locator('.auth-card h1').waitFor();
    await page.waitForLoadState('networkidle');
    await expectNoHorizontalScroll(page);
    await shot(page, 'invite-link');
  });
});
