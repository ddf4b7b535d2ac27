import fs from 'node:fs';
import type { Browser, BrowserContext, ConsoleMessage, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import { VIEWPORT, launchBrowser, requestToken, screenshots, seedCatalog, signInThroughForm, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { clearOfBoundary } from '../helpers/clock.js';
import { createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';
import { tampered } from '../helpers/tamper.js';

warnIfSkipped();

const SIZES = [
  { name: 'desktop', viewport: VIEWPORT, isMobile: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true },
] as const;

/**
 * Issue 13 in the web app: a client's quota and claims in its dialogs, its usage on its card
 * and on usage pages (with the CSV of the organization), the organization's policy (edited by
 * a platform admin, read by an org admin) and the rotate dialog's retire-when-unused option —
 * each checked against what the server does, and with nothing refused by the CSP.
 */
describe.skipIf(skipBrowserTests).each(SIZES)(skipBrowserTests ? skipReason : 'admin web app in Chromium: usage, quotas, claims, policy ($name)', (size) => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page };
  let root: { context: BrowserContext; page: Page };
  let audience: string;
  let acme: string;
  const shot = screenshots(`usage-${size.name}`);
  const client = { id: '', secret: '' };
  const problems: string[] = [];

  async function open(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({
      baseURL: server.issuer,
      viewport: size.viewport,
      isMobile: size.isMobile,
      hasTouch: size.isMobile,
      locale: 'en-GB',
      timezoneId: 'UTC',
      reducedMotion: 'reduce',
      acceptDownloads: true,
    });
    context.setDefaultTimeout(8_000);
    context.setDefaultNavigationTimeout(15_000);
    const page = await context.newPage();
    page.on('console', (m: ConsoleMessage) => {
      // A refused request (the session probe before sign-in, the refused claim) is the network's, not the page's.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => console.error('CSP refused ' + e.effectiveDirective + ' ' + (e.blockedURI || e.sample)));`);
    return { context, page };
  }

  beforeAll(async () => {
    // The CSV test expects this block's tokens on one day of the server's real clock.
    await clearOfBoundary('day', 30_000);
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    const { runtime } = server;
    audience = await seedCatalog(runtime);
    acme = (await runtime.organizations.create({ name: 'Acme Energy' }, SYSTEM_ACTOR)).id;
    await createUser(runtime, 'dana@acme.example.com', { orgId: acme, role: 'admin' });
    await createUser(runtime, 'root@example.com', { platformAdmin: true });
    admin = await open();
    root = await open();
    await signInThroughForm(admin.page, 'dana@acme.example.com');
    await signInThroughForm(root.page, 'root@example.com');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const card = (page: Page, name: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });

  it('creates a client with a token quota and claims; a claim the token defines is refused next to the claims', async () => {
    const { page } = admin;
    await page.goto(`/organizations/${acme}/api`);
    await page.getByRole('button', { name: 'Create client' }).first().click();
    const form = page.getByRole('dialog', { name: 'Create client' });
    await form.getByLabel('Name').fill('Billing exporter');
    await form.getByRole('checkbox', { name: /Meter reader/ }).check();
    await form.getByRole('checkbox', { name: 'Limit the tokens this client may get' }).check();
    await form.getByLabel('Quota limit').fill('500');
    await form.getByLabel('Quota period').selectOption('day');
    const claims = form.getByRole('group', { name: 'Token claims' });
    for (const [i, [name, type, value]] of [
      ['tenant', 'string', 'acme'],
      ['tier', 'number', '3'],
      ['sub', 'string', 'me'],
    ].entries()) {
      await claims.getByRole('button', { name: 'Add claim' }).click();
      await claims.getByLabel(`Claim ${i + 1} name`).fill(name as string);
      await claims.getByLabel(`Claim ${i + 1} type`).selectOption(type as string);
      await claims.getByLabel(`Claim ${i + 1} value`).fill(value as string);
    }
    await form.getByRole('button', { name: 'Save' }).click();
    // The server's refusal names the claim, next to the claims.
    const refusal = claims.getByRole('alert').filter({ hasText: '“sub”: a claim the access token defines' });
    await refusal.waitFor();
    await refusal.scrollIntoViewIfNeeded();
    await shot(page, 'claims-refused');
    await claims.getByRole('button', { name: 'Remove claim 3' }).click();
    await claims.getByRole('button', { name: 'Add claim' }).click();
    await claims.getByLabel('Claim 3 name').fill('beta');
    await claims.getByLabel('Claim 3 type').selectOption('boolean');
    await shot(page, 'create-client-quota-claims');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });

    const created = card(page, 'Billing exporter');
    client.secret = await created.getByTestId('client-secret').innerText();
    client.id = (await created.getAttribute('data-client-id'))!;
    expect(await created.innerText()).toContain('500 per day');
    expect((await created.locator('.claim-list code').allInnerTexts()).sort()).toEqual(['beta=true', 'tenant="acme"', 'tier=3']);

    // The token carries the claims, as the resource server sees them.
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', audience }),
    });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ tenant: 'acme', tier: 3, beta: true });
  });

  it('edits the quota: a value the browser cannot send is explained next to the quota; the saved quota is the server’s', async () => {
    const { page } = admin;
    await card(page, 'Billing exporter').getByRole('button', { name: 'Edit Billing exporter' }).click();
    const form = page.getByRole('dialog', { name: 'Edit Billing exporter' });
    await form.getByLabel('Quota limit').fill('0');
    await shot(page, 'edit-client');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('group', { name: 'Token quota' }).getByRole('alert').filter({ hasText: 'whole number of tokens' }).waitFor();
    await form.getByLabel('Quota limit').fill('800');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    expect(await card(page, 'Billing exporter').innerText()).toContain('800 per day');
    const stored = await server.runtime.clients.get(acme, client.id);
    expect(stored.token_quota).toEqual({ limit: 800, per: 'day' });
  });

  it('shows the last 24 hours on the card and a usage page per client, with the redundant-token advice', async () => {
    const { page } = admin;
    // Four more tokens, each while the previous one is fresh (redundant), and one wrong secret.
    for (let i = 0; i < 4; i++) expect((await requestToken(server.issuer, client.id, client.secret, audience)).status).toBe(200);
    const wrong = tampered(client.secret);
    expect((await requestToken(server.issuer, client.id, wrong, audience)).status).toBe(401);
    // Counts are flushed in batches; the test does not wait for the interval.
    await server.runtime.usageCounter.flush();

    await page.goto(`/organizations/${acme}/api`);
    const row = card(page, 'Billing exporter');
    await expect.poll(() => row.locator('.client-usage-total').innerText()).toBe('5');
    expect(await row.getByTestId('sparkline').locator('canvas').count()).toBe(1);
    await shot(page, 'client-card-sparkline');

    await row.getByRole('link', { name: 'Usage of Billing exporter' }).click();
    await page.waitForURL(`**/organizations/${acme}/clients/${client.id}/usage`);
    await page.getByRole('heading', { name: 'Usage of Billing exporter' }).waitFor();
    expect(await page.getByTestId('total-tokens').innerText()).toBe('5');
    expect(await page.getByTestId('total-failed').innerText()).toBe('1');
    expect(await page.getByTestId('redundant-share').innerText()).toBe('80%');
    expect(await page.getByRole('note').innerText()).toContain('This client requests a new token for most calls; cache tokens until they expire — see the client SDK docs');
    expect(await page.getByRole('img', { name: /Tokens and failed requests per hour: 5 tokens and 1 failed requests in 24 hours/ }).count()).toBe(1);
    expect(await page.locator('.usage-failures').innerText()).toContain('invalid_client: 1');
    await page.getByTestId('usage-chart').scrollIntoViewIfNeeded();
    await shot(page, 'client-usage-hour');

    await page.getByText('Last 30 days').click();
    await page.getByRole('img', { name: /per day: 5 tokens and 1 failed requests in 30 days/ }).waitFor();
    await shot(page, 'client-usage-day');
  });

  it('shows the organization’s usage by client and downloads its CSV', async () => {
    const { page } = admin;
    await page.goto(`/organizations/${acme}/usage`);
    const table = page.getByRole('table', { name: 'Usage by client' });
    await table.getByRole('link', { name: 'Billing exporter' }).waitFor();
    expect(await table.getByRole('row').nth(1).innerText()).toMatch(/Billing exporter\s+5\s+1\s+80%\s+caches no tokens/);
    await shot(page, 'organization-usage');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toBe(`usage-${acme}-day.csv`);
    const csv = fs.readFileSync((await download.path())!, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('start,granularity,client_id,name,tokens,failed,redundant_tokens');
    expect(lines.slice(1)).toEqual([expect.stringMatching(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT00:00:00\\.000Z,day,${client.id},Billing exporter,5,1,4$`))]);
  });

  it('a platform admin edits the policy; the clients it does not fit are listed with their reasons; the org admin reads it', async () => {
    const { page } = root;
    await page.goto(`/organizations/${acme}/policy`);
    const form = page.getByRole('form', { name: 'Policy' });
    await form.getByRole('checkbox', { name: 'Every role, including roles created later' }).uncheck();
    await form.getByRole('checkbox', { name: /Meter writer/ }).check();
    await form.getByLabel('Max clients').fill('5');
    await form.getByLabel('Max access token lifetime (seconds)').fill('900');
    await form.getByLabel('Secret max age (days)').fill('10');
    await form.getByRole('checkbox', { name: 'Limit the tokens all clients of the organization may get together' }).check();
    await form.getByLabel('Quota limit').fill('100');
    await form.getByLabel('Quota period').selectOption('day');
    await form.getByRole('checkbox', { name: 'Refresh tokens allowed' }).uncheck();
    await form.getByRole('button', { name: 'Save policy' }).click();
    await form.getByRole('status').filter({ hasText: 'Policy saved.' }).waitFor();
    const outside = page.getByRole('list', { name: 'Clients outside the policy' });
    await outside.getByText('Billing exporter').waitFor();
    const reasons = await outside.innerText();
    expect(reasons).toContain('role "meter-reader" is not assignable');
    expect(reasons).toContain("the client's quota exceeds the organization's");
    await outside.scrollIntoViewIfNeeded();
    await shot(page, 'policy-editor');

    const policy = await server.runtime.policyService.get(acme);
    expect(policy).toMatchObject({
      assignable_roles: ['meter-writer'],
      max_clients: 5,
      max_access_token_ttl: 900,
      secret_max_age_days: 10,
      token_quota: { limit: 100, per: 'day' },
      refresh_tokens_allowed: false,
    });

    await admin.page.goto(`/organizations/${acme}/policy`);
    const facts = admin.page.getByRole('definition');
    await admin.page.getByText('View only: platform administrators change the policy.').waitFor();
    expect(await admin.page.getByRole('form').count()).toBe(0);
    expect(await facts.allInnerTexts()).toEqual(['Meter writer', '5 (1 now)', '100 per day', '900 seconds', 'Not allowed', '10 days']);
    await shot(admin.page, 'policy-read-only');

    // The client's quota may not exceed the organization's: the server's refusal shows at the quota, and only there.
    await admin.page.goto(`/organizations/${acme}/api`);
    await card(admin.page, 'Billing exporter').getByRole('button', { name: 'Edit Billing exporter' }).click();
    const form2 = admin.page.getByRole('dialog', { name: 'Edit Billing exporter' });
    await form2.getByLabel('Quota limit').fill('900');
    await form2.getByRole('button', { name: 'Save' }).click();
    await form2.getByRole('group', { name: 'Token quota' }).getByRole('alert').filter({ hasText: "exceeds the organization's quota" }).waitFor();
    expect(await form2.getByRole('alert').count()).toBe(1);
    await form2.getByRole('button', { name: 'Cancel' }).click();
    expect((await server.runtime.clients.get(acme, client.id)).token_quota).toEqual({ limit: 800, per: 'day' });
  });

  it('warns of the secret expiring within 14 days; rotating with retire-when-unused shows the previous secret and its last use', async () => {
    const { page } = admin;
    await page.goto(`/organizations/${acme}/api`);
    const row = card(page, 'Billing exporter');
    await page.getByRole('note').filter({ hasText: 'A client secret expires soon' }).filter({ hasText: 'Billing exporter (expires in 10 days)' }).waitFor();
    expect(await row.locator('.badge-amber').innerText()).toBe('expires in 10 days');
    await shot(page, 'secret-expiring');

    await row.getByRole('button', { name: 'Rotate secret of Billing exporter' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate client secret' });
    const retire = confirm.getByRole('checkbox', { name: /Retire the old secret sooner/ });
    expect(await retire.isDisabled()).toBe(true);
    await confirm.getByRole('checkbox', { name: 'Keep the old secret valid for a grace period' }).check();
    await retire.check();
    const unused = confirm.getByLabel('Retire the old secret once unused for (minutes)');
    await unused.fill('1');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.getByRole('alert').filter({ hasText: 'between 2 and 43200' }).waitFor();
    await unused.fill('10');
    await shot(page, 'rotate-retire-when-unused');
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm.waitFor({ state: 'detached' });

    const previous = row.locator('.previous-secret');
    await previous.waitFor();
    expect((await previous.innerText()).replace(/\s+/g, ' ')).toMatch(
      new RegExp(`…${client.secret.slice(-4)} valid until .+ · last used (just now|never|\\d+ min ago) · retires once unused for 10 min`, 'i'),
    );
    // The new secret, too, is under the policy's ten days: the card says so from the reloaded client.
    await expect.poll(() => row.locator('.badge-amber').innerText()).toBe('expires in 10 days');
    // Both secrets work in the grace period.
    const stored = await server.runtime.clients.get(acme, client.id);
    expect(stored.previous_secret?.retire_when_unused_seconds).toBe(600);
    expect((await requestToken(server.issuer, client.id, client.secret, audience)).status).toBe(200);
    await shot(page, 'previous-secret');
    expect(problems).toEqual([]);
  });
});
