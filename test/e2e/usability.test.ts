import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import { VIEWPORT, clipboardText, launchBrowser, newContext, screenshots, seedCatalog, signInThroughForm, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { PASSWORD, createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

const run = promisify(execFile);

/**
 * Issue 15, items 1, 3, 4 and 5 at desktop size: a first run's sign-in page, Settings →
 * Developers → OAuth2 (whose curl examples really get a token), dialogs that keep focus
 * and show the server's complaint beside Save, and the warnings before creating a client.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium: first run, developers page, dialogs', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let acme: string;
  const shot = screenshots('usability');
  /** What the browser reported: console errors and warnings, failed requests, answers of 400 and above. */
  const problems: string[] = [];
  const sessionRequests: string[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    context = await newContext(browser, server.issuer);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    // A request the page itself abandons (the favicon of a page being reloaded or left) is not a failure of the app.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/session' && r.method() === 'GET') sessionRequests.push(r.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const card = (name: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });
  const dialog = (name: string | RegExp): Locator => page.getByRole('dialog', { name });
  const focused = () => page.evaluate('document.activeElement?.getAttribute("aria-label") || document.activeElement?.textContent?.trim() || document.activeElement?.tagName') as Promise<string>;
  const focusInside = (locator: Locator) => locator.evaluate((el) => el.contains((el.ownerDocument as unknown as { activeElement: unknown }).activeElement as never));

  it('a first run: the sign-in page says where the setup link is, without a 401 or any error in the console', async () => {
    await page.goto('/');
    await page.waitForURL('**/signin?next=%2F');
    const hint = page.getByTestId('setup-hint');
    await hint.waitFor();
    expect(await hint.innerText()).toMatch(/No accounts yet[\s\S]*one-time setup link, …\/setup\?token=…, in the terminal or log of the server/);
    await shot(page, 'signin-without-users');
    expect(problems).toEqual([]);
    expect(sessionRequests).toEqual([]); // no session cookie: nothing to resume, nothing asked
  });

  it('once a user exists the hint is gone; a signed-in reload resumes the session; after signing out nothing is asked again', async () => {
    const { runtime } = server;
    await createUser(runtime, 'riley@platform.example.com', { platformAdmin: true });
    await seedCatalog(runtime);
    await runtime.catalogService.createRole(
      { id: 'meter-auditor', name: 'Meter auditor', description: 'Audits meter readings', permissions: [{ api: 'https://meters.example.com/', value: 'meters:read' }] },
      SYSTEM_ACTOR,
    );
    acme = (await runtime.organizations.create({ name: 'Acme Energy' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'dana@acme.example.com', { orgId: acme, role: 'admin' });

    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByTestId('setup-hint').count()).toBe(0);
    await signInThroughForm(page, 'dana@acme.example.com', PASSWORD);
    const marker = (await context.cookies()).find((c) => c.name === 'portcullis_signed_in');
    expect(marker).toMatchObject({ value: '1', httpOnly: false, sameSite: 'Lax', path: '/' });
    await page.reload();
    await page.getByTestId('current-org').waitFor();
    // The reload resumed the session (React's development build, which the test build may be, asks twice).
    expect(sessionRequests.length).toBeGreaterThan(0);
    const asked = sessionRequests.length;

    await page.getByRole('button', { name: 'User' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL('**/signin');
    expect((await context.cookies()).map((c) => c.name)).toEqual([]);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(sessionRequests).toHaveLength(asked);
    expect(problems).toEqual([]);
  });

  it('warns before creating a client without roles or with a taken name; the person can create it anyway', async () => {
    await signInThroughForm(page, 'dana@acme.example.com', PASSWORD);
    await page.getByRole('heading', { name: 'No clients yet' }).waitFor();
    const opener = page.getByRole('button', { name: 'Create client' }).first();
    await opener.click();
    const form = dialog('Create client');
    await form.getByLabel('Name').fill('Meter daemon');
    await form.getByRole('button', { name: 'Save' }).click();
    const warning = form.getByTestId('create-warnings');
    await warning.waitFor();
    expect(await warning.innerText()).toContain('It has no roles, so it can get no token until you give it one.');
    expect(await card('Meter daemon').count()).toBe(0); // nothing created yet
    await shot(page, 'create-without-roles-warning');
    // Choosing a role answers the warning: Save creates at once.
    await form.getByRole('checkbox', { name: /Meter reader/ }).check();
    expect(await warning.count()).toBe(0);
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await card('Meter daemon').waitFor();

    await page.getByRole('button', { name: 'Create client' }).first().click();
    await form.getByLabel('Name').fill('meter daemon ');
    await form.getByRole('button', { name: 'Save' }).click();
    expect(await warning.innerText()).toMatch(/no roles[\s\S]*A client named “meter daemon” exists already/);
    await form.getByRole('button', { name: 'Create anyway' }).click();
    await form.waitFor({ state: 'detached' });
    await card('meter daemon').waitFor();
    expect(await card('meter daemon').locator('.client-roles').innerText()).toContain('No roles');
  });

  it("a dialog's error shows beside Save, in view, with the server's details; focus stays inside and returns to the opener", async () => {
    const opener = page.getByRole('button', { name: 'Create client' }).first();
    await opener.click();
    const form = dialog('Create client');
    await form.getByLabel('Name').fill('Five roles');
    const boxes = form.getByRole('group', { name: 'Available roles' }).getByRole('checkbox');
    expect(await boxes.count()).toBe(5);
    for (const box of await boxes.all()) await box.check();
    // Meanwhile a platform administrator deletes one of them.
    await server.runtime.catalogService.deleteRole('meter-auditor', SYSTEM_ACTOR);
    await form.getByRole('button', { name: 'Save' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toBe('Unknown roles: meter-auditor.\nRoles: no role "meter-auditor"');
    // In view without scrolling, next to Save.
    const at = (await alert.boundingBox())!;
    const save = (await form.getByRole('button', { name: 'Save' }).boundingBox())!;
    expect(at.y + at.height).toBeLessThanOrEqual(VIEWPORT.height);
    expect(at.y).toBeGreaterThanOrEqual(0);
    expect(Math.abs(at.y + at.height / 2 - (save.y + save.height / 2))).toBeLessThan(60);
    await shot(page, 'error-beside-save');
    // The refusal was this step's point: the browser logs its 400, which is no problem of the app.
    expect(problems.every((p) => p.includes('/api/v1/organizations/') || p.includes('400'))).toBe(true);
    problems.length = 0;

    // Tab and Shift+Tab go round inside the dialog.
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      expect(await focusInside(form), `${i}: ${await focused()}`).toBe(true);
    }
    await form.getByRole('button', { name: 'Close' }).focus();
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Save');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Close');

    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });
    await expect.poll(focused).toBe('Create client');

    // Cancel and Save return focus too.
    const rotate = page.getByRole('button', { name: 'Rotate secret of Meter daemon', exact: true });
    await rotate.click();
    await dialog('Rotate client secret').getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(focused).toBe('Rotate secret of Meter daemon');
    await rotate.click();
    await dialog('Rotate client secret').getByRole('button', { name: 'Rotate secret' }).click();
    await dialog('Rotate client secret').waitFor({ state: 'detached' });
    await expect.poll(focused).toBe('Rotate secret of Meter daemon');
    // A deleted client's button is gone: focus goes to the page's content, not to the body.
    await page.getByRole('button', { name: 'Delete meter daemon', exact: true }).click();
    await dialog('Delete meter daemon?').getByRole('button', { name: 'Delete client' }).click();
    await card('meter daemon').waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate('document.activeElement.id')).toBe('main');
  });

  it('Settings → Developers → OAuth2: the token endpoints from the issuer, and curl examples that get a token', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('menuitem', { name: 'Developers' }).click();
    await page.waitForURL('**/settings/developers/oauth2');
    expect(await page.getByRole('navigation', { name: 'Developers' }).getByRole('link').allInnerTexts()).toEqual(['OAuth2']);
    const endpoints = page.getByRole('region', { name: 'Token endpoint' });
    await endpoints.locator('code').first().waitFor();
    expect(await endpoints.locator('code').allInnerTexts()).toEqual([`${server.issuer}/oauth/token`, `${server.issuer}/oauth2/token`]);
    await endpoints.getByRole('button', { name: 'Copy /oauth2/token URL' }).click();
    expect(await clipboardText(page)).toBe(`${server.issuer}/oauth2/token`);

    // The same clients and actions as the API page: rotate here, and use the new secret in the examples.
    const client = card('Meter daemon');
    const id = (await client.getAttribute('data-client-id'))!;
    await client.getByRole('button', { name: 'Rotate secret of Meter daemon' }).click();
    await dialog('Rotate client secret').getByRole('button', { name: 'Rotate secret' }).click();
    const secret = await client.getByTestId('client-secret').innerText();
    await shot(page, 'developers-oauth2');
    await client.getByText('Get a token with curl').click();
    await client.getByRole('button', { name: 'Copy curl example for /oauth2/token of Meter daemon' }).scrollIntoViewIfNeeded();
    await shot(page, 'developers-oauth2-curl');
    for (const path of ['/oauth/token', '/oauth2/token']) {
      await client.getByRole('button', { name: `Copy curl example for ${path} of Meter daemon` }).click();
      const example = await clipboardText(page);
      expect(example).toContain(`${server.issuer}${path}`);
      expect(example).toContain(id);
      expect(example).toContain('<client secret>');
      expect(example).toContain('audience=https://meters.example.com/');
      // Run as a person would after pasting it and filling in the secret.
      const { stdout } = await run('sh', ['-c', example.replace('<client secret>', secret)]);
      expect(JSON.parse(stdout)).toMatchObject({ token_type: 'Bearer', scope: 'meters:read' });
    }
    expect(problems).toEqual([]);
  });
});
