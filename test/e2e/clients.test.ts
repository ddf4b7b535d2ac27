import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import {
  VIEWPORT,
  clipboardText,
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
import { createUser, joinOrganization } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

/**
 * Issue 4, flows 2–7: an organization admin chooses the organization, finds the Clients
 * tab, and creates, rotates, re-roles and deletes a client — each effect checked at the
 * token endpoint as an application would see it.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium: organization clients', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let audience: string;
  let acme: string;
  const shot = screenshots('clients');
  /** The client the flows below share: created in the browser, then rotated, re-roled, deleted. */
  const daemon = { id: '', secret: '' };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    const { runtime } = server;
    audience = await seedCatalog(runtime);
    acme = (await runtime.organizations.create({ name: 'Acme Energy' }, SYSTEM_ACTOR)).id;
    const globex = (await runtime.organizations.create({ name: 'Globex' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'dana@acme.example.com', { orgId: acme, role: 'admin' });
    await joinOrganization(runtime, globex, 'dana@acme.example.com', 'admin');
    context = await newContext(browser, server.issuer);
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const card = (name: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });
  const dialog = (name: string | RegExp): Locator => page.getByRole('dialog', { name });

  it('chooses the organization from the User menu, and Settings → My organization opens the Clients tab with an empty state', async () => {
    await signInThroughForm(page, 'dana@acme.example.com');
    const userButton = page.getByRole('button', { name: 'User' });
    const settingsButton = page.getByRole('button', { name: 'Settings' });
    // Both icons sit in the upper-right corner of every page.
    for (const button of [userButton, settingsButton]) {
      const box = (await button.boundingBox())!;
      expect(box.x).toBeGreaterThan(VIEWPORT.width - 160);
      expect(box.y).toBeLessThan(56);
    }

    await userButton.click();
    const orgMenu = page.getByRole('menu', { name: 'User' });
    await expect.poll(() => orgMenu.getByRole('menuitemradio').allInnerTexts()).toEqual([expect.stringContaining('Acme Energy'), expect.stringContaining('Globex')]);
    await shot(page, 'user-menu-organizations');
    await orgMenu.getByRole('menuitemradio', { name: /Globex/ }).click();
    await expect.poll(() => page.getByTestId('current-org').innerText()).toBe('Globex');
    await userButton.click();
    await page
      .getByRole('menu', { name: 'User' })
      .getByRole('menuitemradio', { name: /Acme Energy/ })
      .click();
    await expect.poll(() => page.getByTestId('current-org').innerText()).toBe('Acme Energy');

    await settingsButton.click();
    await shot(page, 'settings-menu');
    await page.getByRole('menuitem', { name: 'My organization' }).click();
    await page.waitForURL(`**/organizations/${acme}/api`);
    const sidebar = page.getByRole('navigation', { name: 'My organization' });
    expect(await sidebar.getByRole('link').allInnerTexts()).toEqual(['API', 'Usage', 'Policy', 'Members', 'Audit log']);
    expect(await page.getByRole('tab', { name: 'Clients' }).getAttribute('aria-selected')).toBe('true');
    await page.getByRole('heading', { name: 'No clients yet' }).waitFor();
    expect(await page.getByRole('button', { name: 'Create client' }).count()).toBe(2); // toolbar and empty state
    await shot(page, 'clients-empty-state');
  });

  it('creates a client: Name, Available roles, Save bottom-right; the secret is shown once, with copy and a warning, and gets a token', async () => {
    const createButton = page.getByRole('button', { name: 'Create client' }).first();
    const box = (await createButton.boundingBox())!;
    expect(box.x).toBeGreaterThan(VIEWPORT.width / 2); // on the right
    await createButton.click();
    const form = dialog('Create client');
    await form.waitFor();
    // Save with no name: the problem is explained inside the form, nothing is created.
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('alert').filter({ hasText: 'Give the client a name' }).waitFor();
    expect(await form.getByRole('group', { name: 'Available roles' }).getByRole('checkbox').count()).toBe(4); // two seeded + two built in
    await form.getByLabel('Name').fill('Meter daemon');
    await form.getByRole('checkbox', { name: /Meter reader/ }).check();
    await shot(page, 'create-client-form');
    const save = (await form.getByRole('button', { name: 'Save' }).boundingBox())!;
    const cancel = (await form.getByRole('button', { name: 'Cancel' }).boundingBox())!;
    const formBox = (await form.boundingBox())!;
    expect(save.x).toBeGreaterThan(cancel.x);
    expect(save.x + save.width).toBeGreaterThan(formBox.x + formBox.width - 40);
    expect(save.y + save.height).toBeGreaterThan(formBox.y + formBox.height - 40);
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });

    const created = card('Meter daemon');
    await created.waitFor();
    daemon.secret = await created.getByTestId('client-secret').innerText();
    daemon.id = (await created.getAttribute('data-client-id'))!;
    expect(daemon.secret).toMatch(/^pcs_[0-9A-Za-z]{49}$/);
    expect(await created.innerText()).toContain(daemon.id);
    expect(await created.getByRole('note').innerText()).toMatch(/only time it is shown[\s\S]*gone once you refresh/);
    await shot(page, 'client-created-secret-shown');
    await created.getByRole('button', { name: 'Copy client secret' }).click();
    expect(await clipboardText(page)).toBe(daemon.secret);
    await created.getByRole('button', { name: 'Copy client ID' }).click();
    expect(await clipboardText(page)).toBe(daemon.id);
    expect(await created.getByRole('button', { name: 'Copied client ID' }).count()).toBe(1);

    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:read');

    // After a refresh the secret is gone for good: only its hint remains.
    await page.reload();
    await card('Meter daemon').waitFor();
    expect(await page.getByTestId('client-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(daemon.secret);
    expect(await card('Meter daemon').locator('.secret-hint').innerText()).toMatch(new RegExp(`${daemon.secret.slice(-4)}$`));
  });

  it('rotates the secret from the button next to its hint, after a confirmation: the old secret gets 401, the new one a token', async () => {
    const client = card('Meter daemon');
    const hint = (await client.locator('.secret-hint').boundingBox())!;
    const rotate = client.getByRole('button', { name: 'Rotate secret of Meter daemon' });
    const rotateBox = (await rotate.boundingBox())!;
    expect(Math.abs(rotateBox.y + rotateBox.height / 2 - (hint.y + hint.height / 2))).toBeLessThan(8); // same line
    expect(rotateBox.x - (hint.x + hint.width)).toBeLessThan(40); // right next to it
    await rotate.click();
    const confirm = dialog('Rotate client secret');
    await confirm.waitFor();
    expect(await confirm.getByLabel('Grace period (minutes)').isDisabled()).toBe(true);
    await shot(page, 'rotate-confirmation');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.waitFor({ state: 'detached' });

    const newSecret = await client.getByTestId('client-secret').innerText();
    expect(newSecret).not.toBe(daemon.secret);
    expect(await client.getByRole('note').innerText()).toContain('The previous secret has stopped working.');
    await client.getByRole('button', { name: 'Copy client secret' }).click();
    expect(await clipboardText(page)).toBe(newSecret);
    await shot(page, 'rotated-secret-shown');

    await expectRefused(server.issuer, daemon.id, daemon.secret, audience);
    await expectToken(server.issuer, daemon.id, newSecret, audience, 'meters:read');
    daemon.secret = newSecret;

    await page.reload();
    await card('Meter daemon').waitFor();
    expect(await page.getByTestId('client-secret').count()).toBe(0);
    expect(await card('Meter daemon').locator('.secret-hint').innerText()).toMatch(new RegExp(`${newSecret.slice(-4)}$`));
  });

  it('rotates with a grace period: the old secret keeps working for the minutes chosen', async () => {
    await card('Meter daemon').getByRole('button', { name: 'Rotate secret of Meter daemon' }).click();
    const confirm = dialog('Rotate client secret');
    await confirm.getByRole('checkbox', { name: 'Keep the old secret valid for a grace period' }).check();
    const minutes = confirm.getByLabel('Grace period (minutes)');
    await minutes.fill('0');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.getByRole('alert').filter({ hasText: 'whole number of minutes between 1 and 43200' }).waitFor();
    await minutes.fill('15');
    await shot(page, 'rotate-with-grace-period');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.waitFor({ state: 'detached' });
    const client = card('Meter daemon');
    const newSecret = await client.getByTestId('client-secret').innerText();
    expect(await client.getByRole('note').innerText()).toContain('The previous secret keeps working until');
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:read');
    await expectToken(server.issuer, daemon.id, newSecret, audience, 'meters:read');
    daemon.secret = newSecret;
  });

  it("changes roles in the Roles popup (pencil below the name): Available left, Selected right, a warning; the next token's scope follows", async () => {
    const client = card('Meter daemon');
    const name = (await client.getByRole('heading', { name: 'Meter daemon' }).boundingBox())!;
    const pencil = client.getByRole('button', { name: 'Edit roles of Meter daemon' });
    const pencilBox = (await pencil.boundingBox())!;
    const badge = (await client.locator('.badge', { hasText: 'Meter reader' }).boundingBox())!;
    expect(pencilBox.y).toBeGreaterThan(name.y + name.height - 2); // below the name
    expect(Math.abs(pencilBox.y + pencilBox.height / 2 - (badge.y + badge.height / 2))).toBeLessThan(8); // beside the roles
    await pencil.click();

    const roles = dialog('Roles');
    await roles.waitFor();
    expect(await roles.getByRole('note').innerText()).toContain('Changing roles changes what this client can access');
    const available = roles.getByRole('region', { name: 'Available roles' });
    const selected = roles.getByRole('region', { name: 'Selected roles' });
    expect((await available.boundingBox())!.x).toBeLessThan((await selected.boundingBox())!.x);
    expect(await selected.getByRole('button').allInnerTexts()).toEqual([expect.stringContaining('Meter reader')]);
    await available.getByRole('button', { name: 'Add Meter writer' }).click();
    expect(await selected.getByRole('button').count()).toBe(2);
    await shot(page, 'roles-popup');
    const save = (await roles.getByRole('button', { name: 'Save' }).boundingBox())!;
    const box = (await roles.boundingBox())!;
    expect(save.x + save.width).toBeGreaterThan(box.x + box.width - 40);
    await roles.getByRole('button', { name: 'Save' }).click();
    await roles.waitFor({ state: 'detached' });
    expect(await client.locator('.badge').allInnerTexts()).toEqual(['Meter reader', 'Meter writer']);
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:read meters:write');

    await pencil.click();
    await roles.getByRole('region', { name: 'Selected roles' }).getByRole('button', { name: 'Remove Meter reader' }).click();
    expect(await roles.getByRole('region', { name: 'Available roles' }).getByRole('button', { name: 'Add Meter reader' }).count()).toBe(1);
    await roles.getByRole('button', { name: 'Save' }).click();
    await roles.waitFor({ state: 'detached' });
    expect(await client.locator('.badge').allInnerTexts()).toEqual(['Meter writer']);
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:write');
  });

  it('deletes a client from the Delete button right of its name, after a danger-coloured warning: its secret gets 401', async () => {
    const client = card('Meter daemon');
    const name = (await client.getByRole('heading', { name: 'Meter daemon' }).boundingBox())!;
    const del = client.getByRole('button', { name: 'Delete Meter daemon' });
    const delBox = (await del.boundingBox())!;
    expect(delBox.x).toBeGreaterThan(name.x + name.width);
    expect(Math.abs(delBox.y + delBox.height / 2 - (name.y + name.height / 2))).toBeLessThan(10);

    // Cancel changes nothing.
    await del.click();
    const confirm = dialog('Delete Meter daemon?');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await expectToken(server.issuer, daemon.id, daemon.secret, audience, 'meters:write');

    await del.click();
    await confirm.waitFor();
    const warning = confirm.getByRole('note');
    expect(await warning.innerText()).toContain('Every application using this client will lose access to the API.');
    expect(isReddish(await cssOf(warning, 'color'))).toBe(true);
    expect(isReddish(await cssOf(confirm.getByRole('heading', { name: 'Delete Meter daemon?' }), 'color'))).toBe(true);
    const button = confirm.getByRole('button', { name: 'Delete client' });
    expect(isReddish(await cssOf(button, 'background-color'))).toBe(true);
    await shot(page, 'delete-confirmation');
    await button.click();
    await confirm.waitFor({ state: 'detached' });
    await client.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: 'No clients yet' }).waitFor();
    await expectRefused(server.issuer, daemon.id, daemon.secret, audience);
  });

  it('shows an API failure in the dialog where the person acted, in plain words', async () => {
    // Another admin deletes the client while this page still lists it.
    await createInBrowser('Billing exporter', ['Meter reader']);
    const id = (await card('Billing exporter').getAttribute('data-client-id'))!;
    await server.runtime.clients.delete(acme, id, SYSTEM_ACTOR);

    await card('Billing exporter').getByRole('button', { name: 'Rotate secret of Billing exporter' }).click();
    const confirm = dialog('Rotate client secret');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const alert = confirm.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toBe('Client not found. It may have been deleted meanwhile; reload the page to see the current state.');
    await shot(page, 'error-in-dialog');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });

    // A dialog's error also names the field at fault when the server refuses the input.
    await page.getByRole('button', { name: 'Create client' }).first().click();
    const form = dialog('Create client');
    // maxlength stops typing at 200 characters: lift it, as a script could, to see the server's refusal.
    await form.getByLabel('Name').evaluate((el) => (el as unknown as { removeAttribute(name: string): void }).removeAttribute('maxlength'));
    await form.getByLabel('Name').fill('x'.repeat(201));
    await form.getByRole('checkbox', { name: /Meter reader/ }).check(); // with a role: no warning before the server's answer
    await form.getByRole('button', { name: 'Save' }).click();
    expect(await form.getByRole('alert').innerText()).toBe('Please check: Name must be at most 200 characters long.');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });
  });

  it('works from the keyboard: menus open with Enter and close with Escape, dialogs submit with Enter', async () => {
    await page.goto(`/organizations/${acme}/api`);
    await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    const userButton = page.getByRole('button', { name: 'User' });
    await userButton.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu', { name: 'User' });
    await menu.waitFor();
    // Focus moves in an effect after the menu renders: poll rather than read once (a loaded CI machine is slow).
    await expect.poll(() => focusedText(page)).toContain('Acme Energy'); // the current organization has focus
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => focusedText(page)).toContain('Globex');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('User');

    await page.getByRole('button', { name: 'Create client' }).first().focus();
    await page.keyboard.press('Enter');
    const form = dialog('Create client');
    await form.waitFor();
    const nameId = await form.getByLabel('Name').getAttribute('id');
    await expect.poll(() => page.evaluate('document.activeElement.id')).toBe(nameId);
    await page.keyboard.type('Keyboard client');
    await page.keyboard.press('Tab'); // to the first of the available roles
    await page.keyboard.press('Space');
    await form.getByLabel('Name').focus();
    await page.keyboard.press('Enter');
    await form.waitFor({ state: 'detached' });
    const client = card('Keyboard client');
    await client.waitFor();
    expect(await client.locator('.badge').count()).toBe(1);
  });

  async function createInBrowser(name: string, roleNames: string[]) {
    await page.getByRole('button', { name: 'Create client' }).first().click();
    const form = dialog('Create client');
    await form.getByLabel('Name').fill(name);
    for (const role of roleNames) await form.getByRole('checkbox', { name: new RegExp(role) }).check();
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await card(name).waitFor();
  }
});

/** A computed style, read in the page (the test's own TypeScript has no DOM types). */
function cssOf(locator: Locator, property: string): Promise<string> {
  return locator.evaluate((el, prop) => (globalThis as unknown as { getComputedStyle(e: unknown): { getPropertyValue(p: string): string } }).getComputedStyle(el).getPropertyValue(prop), property);
}

function focusedText(page: Page): Promise<string> {
  return page.evaluate('document.activeElement.innerText') as Promise<string>;
}

/** `rgb(r, g, b)` whose red clearly dominates: the danger colour, whatever its exact shade. */
function isReddish(rgb: string): boolean {
  const [r = 0, g = 0, b = 0] = (rgb.match(/\d+/g) ?? []).map(Number);
  return r > g + 20 && r > b + 20;
}
