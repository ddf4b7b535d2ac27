import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/main.js';
import { clipboardText, launchBrowser, newContext, screenshots, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { PASSWORD } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

const ROOT_EMAIL = 'riley@platform.example.com';

/**
 * Issue 4, flows 1 and 8: the first start's setup link, signing in and out, and the
 * platform administrator's pages (APIs with permissions, roles, organizations, users),
 * down to an invited organization admin choosing a password.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium: first run and platform administration', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let acme = '';
  const shot = screenshots('first-run');

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    context = await newContext(browser, server.issuer);
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const dialog = (name: string | RegExp): Locator => page.getByRole('dialog', { name });
  const apiGet = async (path: string) => {
    const res = await page.request.get(`/api/v1${path}`);
    return { status: res.status(), body: (await res.json()) as Record<string, unknown> & { data?: Record<string, unknown>[] } };
  };
  const settings = async (item: string) => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('menuitem', { name: item }).click();
  };

  it('creates the first platform administrator on /setup?token=…, who lands signed in', async () => {
    const link = await server.runtime.users.setupLink();
    expect(link).toMatch(new RegExp(`^${server.issuer}/setup\\?token=`));
    await page.goto(link!);
    await page.getByRole('heading', { name: 'Set up Portcullis' }).waitFor();
    await page.getByLabel('Name').fill('Riley');
    await page.getByLabel('Email').fill(ROOT_EMAIL);
    await page.getByLabel('Password', { exact: true }).fill('too short');
    await page.getByLabel('Repeat the password').fill('too short');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    expect(await page.getByRole('alert').innerText()).toBe('Choose a password of at least 12 characters.');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    expect(await page.getByRole('alert').count()).toBe(0); // editing clears the old complaint
    await shot(page, 'setup-page');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.waitForURL('**/admin/organizations');
    await page.getByRole('heading', { name: 'No organizations yet' }).waitFor();
    await shot(page, 'no-organizations-yet');
    const me = await apiGet('/me');
    expect(me.body).toMatchObject({ email: ROOT_EMAIL, name: 'Riley', platform_admin: true });

    // The link works once: a second visitor is told so on the form.
    const other = await newContext(browser, server.issuer);
    const second = await other.newPage();
    await second.goto(link!);
    await second.getByLabel('Email').fill('mallory@example.com');
    await second.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await second.getByLabel('Repeat the password').fill(PASSWORD);
    await second.getByRole('button', { name: 'Create administrator' }).click();
    expect(await second.getByRole('alert').innerText()).toBe('This setup link is invalid, used or expired.');
    await other.close();
  });

  it('signs out from the User menu and back in; a wrong password is explained on the form', async () => {
    await page.getByRole('button', { name: 'User' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL('**/signin');
    await page.getByText('You have signed out.').waitFor();
    expect((await apiGet('/me')).status).toBe(401);

    await page.getByLabel('Email').fill(ROOT_EMAIL);
    await page.getByLabel('Password').fill('not my password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').innerText()).toBe('Email or password is wrong.');
    await shot(page, 'sign-in-wrong-password');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/admin/organizations');
    expect((await apiGet('/me')).status).toBe(200);
  });

  it('creates an API with its permissions, then a role granting one of them (Settings → APIs, Roles)', async () => {
    await settings('APIs');
    await page.waitForURL('**/admin/apis');
    await page.getByRole('heading', { name: /Portcullis management API/ }).waitFor(); // built in, not editable
    expect(await page.getByRole('button', { name: 'Edit Portcullis management API' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Create API' }).click();
    const form = dialog('Create API');
    await form.getByLabel('Name').fill('Meters');
    await form.getByLabel('Identifier').fill('https://meters.example.com/');
    await form.getByLabel('Permission 1', { exact: true }).fill('meters:read');
    await form.getByLabel('Description of permission 1').fill('Read meter readings');
    await form.getByRole('button', { name: 'Add permission' }).click();
    await form.getByLabel('Permission 2', { exact: true }).fill('meters:write');
    await form.getByLabel('Description of permission 2').fill('Record meter readings');
    await shot(page, 'create-api-form');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const permissions = page.getByRole('table', { name: 'Permissions of Meters' });
    await permissions.waitFor();
    expect(await permissions.locator('tbody tr').allInnerTexts()).toEqual(['meters:read\tRead meter readings', 'meters:write\tRecord meter readings']);
    await shot(page, 'apis-page');
    const apis = (await apiGet('/apis')).body.data!;
    expect(apis.find((a) => a.identifier === 'https://meters.example.com/')).toMatchObject({
      name: 'Meters',
      permissions: [
        { value: 'meters:read', description: 'Read meter readings' },
        { value: 'meters:write', description: 'Record meter readings' },
      ],
    });

    // The same identifier twice: the server's refusal shows in the form.
    await page.getByRole('button', { name: 'Create API' }).click();
    await form.getByLabel('Name').fill('Meters again');
    await form.getByLabel('Identifier').fill('https://meters.example.com/');
    await form.getByRole('button', { name: 'Save' }).click();
    expect(await form.getByRole('alert').innerText()).toBe('An API with identifier "https://meters.example.com/" exists already.');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });

    await settings('Roles');
    await page.waitForURL('**/admin/roles');
    await page.getByRole('button', { name: 'Create role' }).click();
    const roleForm = dialog('Create role');
    await roleForm.getByLabel('Name').fill('Meter reader');
    await roleForm.getByLabel('Description').fill('Reads meter readings');
    await roleForm.getByRole('checkbox', { name: 'Meters: meters:read' }).check();
    await shot(page, 'create-role-form');
    await roleForm.getByRole('button', { name: 'Save' }).click();
    await roleForm.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'Meter reader' });
    expect(await row.innerText()).toContain('meter-reader');
    expect(await row.innerText()).toMatch(/Meters\s*meters:read/);
    await shot(page, 'roles-page');
    expect((await apiGet('/roles/meter-reader')).body).toMatchObject({ name: 'Meter reader', permissions: [{ api: 'https://meters.example.com/', value: 'meters:read' }] });
  });

  it('creates an organization and invites its first admin, who chooses a password on /invite?token=…', async () => {
    await settings('Organizations');
    await page.getByRole('button', { name: 'Create organization' }).first().click();
    const form = dialog('Create organization');
    await form.getByLabel('Name').fill('Acme Energy');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'Acme Energy' });
    await row.waitFor();
    const orgs = (await apiGet('/organizations')).body.data!;
    acme = String(orgs.find((o) => o.name === 'Acme Energy')?.id);
    await shot(page, 'organizations-page');

    await row.getByRole('button', { name: 'Open Acme Energy' }).click();
    await page.waitForURL(`**/organizations/${acme}/api`);
    expect(await page.getByTestId('current-org').innerText()).toBe('Acme Energy');
    await page.getByRole('navigation', { name: 'My organization' }).getByRole('link', { name: 'Members' }).click();
    await page.getByRole('button', { name: 'Add member' }).click();
    const add = dialog('Add member');
    await add.getByLabel('Email').fill('ada@acme.example.com');
    await add.getByLabel('Role').selectOption('admin');
    await add.getByRole('button', { name: 'Add member' }).click();
    const invitation = dialog('Invitation link');
    await invitation.waitFor();
    await invitation.getByRole('button', { name: 'Copy invitation link' }).click();
    const inviteUrl = await clipboardText(page);
    expect(inviteUrl).toMatch(new RegExp(`^${server.issuer}/invite\\?token=\\S+$`));
    expect(await invitation.innerText()).toContain(inviteUrl);
    await shot(page, 'member-invited');
    // Without SMTP_URL the administrator receives the link: whoever uses it chooses the password, so the address is not verified.
    expect(await invitation.innerText()).toContain('ada@acme.example.com is invited.');
    expect(await invitation.innerText()).toContain('Email not verified');
    await invitation.getByRole('button', { name: 'Done' }).click();
    const adaRow = page.getByRole('row').filter({ hasText: 'ada@acme.example.com' });
    expect(await adaRow.getByLabel('Role of ada@acme.example.com').inputValue()).toBe('admin');
    expect(await adaRow.innerText()).toMatch(/Invitation pending[\s\S]*Email not verified/);

    // Ada opens the link in her own browser.
    const adaContext = await newContext(browser, server.issuer);
    const ada = await adaContext.newPage();
    await ada.goto(inviteUrl);
    await ada.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
    await ada.getByLabel('Your name').fill('Ada');
    await ada.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await ada.getByLabel('Repeat the password').fill(`${PASSWORD}!`);
    await ada.getByRole('button', { name: 'Set password and sign in' }).click();
    expect(await ada.getByRole('alert').innerText()).toBe('The two passwords are not the same.');
    await ada.getByLabel('Repeat the password').fill(PASSWORD);
    await shot(ada, 'invite-page');
    await ada.getByRole('button', { name: 'Set password and sign in' }).click();
    await ada.waitForURL(`**/organizations/${acme}/api`);
    await ada.getByRole('heading', { name: 'No clients yet' }).waitFor();
    expect(await ada.getByRole('button', { name: 'Create client' }).count()).toBeGreaterThan(0); // she is an admin
    await adaContext.close();
    const users = (await apiGet('/users')).body.data!;
    expect(users.find((u) => u.email === 'ada@acme.example.com')).toMatchObject({ name: 'Ada', has_password: true, platform_admin: false, email_verified: false });
    await page.reload();
    expect(await adaRow.innerText()).toMatch(/Active[\s\S]*Email not verified/);
  });

  it('creates a platform user with an invitation link and deletes one (Settings → Users)', async () => {
    await settings('Users');
    await page.waitForURL('**/admin/users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const form = dialog('Create user');
    await form.getByLabel('Email').fill('ops@platform.example.com');
    await form.getByLabel('Name').fill('Ops');
    await form.getByRole('checkbox', { name: /Platform administrator/ }).check();
    await form.getByRole('button', { name: 'Create user' }).click();
    const invitation = dialog('Invitation link');
    expect(await invitation.innerText()).toMatch(new RegExp(`${server.issuer}/invite\\?token=`));
    await invitation.getByRole('button', { name: 'Done' }).click();
    const row = page.getByRole('row').filter({ hasText: 'ops@platform.example.com' });
    expect(await row.innerText()).toMatch(/Platform admin[\s\S]*Invited/);
    expect(await page.getByRole('row').filter({ hasText: ROOT_EMAIL }).innerText()).toContain('You');
    await shot(page, 'users-page');
    const ops = (await apiGet('/users')).body.data!.find((u) => u.email === 'ops@platform.example.com');
    expect(ops).toMatchObject({ platform_admin: true, has_password: false });

    await row.getByRole('button', { name: 'Delete ops@platform.example.com' }).click();
    const confirm = dialog('Delete ops@platform.example.com?');
    await confirm.getByRole('button', { name: 'Delete user' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await apiGet(`/users/${String(ops?.id)}`)).status).toBe(404);
  });
});
