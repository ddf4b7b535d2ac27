import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/main.js';
import { launchBrowser, newContext, screenshots, signInThroughForm, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

/**
 * The Content-Security-Policy of the web app and of Swagger UI (src/http/security-headers.ts), as
 * Chromium enforces it: both pages work, and nothing they load or run is refused.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'security headers in Chromium: the web app and /docs under their CSP', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let context: BrowserContext;
  const shot = screenshots('security-headers');

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir() }), launchBrowser()]);
    context = await newContext(browser, server.issuer);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A page that records every console message and every CSP violation the document reports. */
  async function watchedPage(): Promise<{ page: Page; messages: string[]; violations: () => Promise<string[]> }> {
    const page = await context.newPage();
    const messages: string[] = [];
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
    // Init scripts run through DevTools, outside the page's CSP: this listener is not itself refused.
    await page.addInitScript(`
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__violations.push(e.effectiveDirective + ' refused ' + (e.blockedURI || 'inline: ' + e.sample) + ' at ' + e.sourceFile + ':' + e.lineNumber));
    `);
    return { page, messages, violations: () => page.evaluate('window.__violations') as Promise<string[]> };
  }

  /** What the console says about the CSP, and any uncaught exception: both must stay empty. */
  const complaints = (messages: string[]) => messages.filter((m) => /content security policy|refused to/i.test(m) || m.startsWith('pageerror'));

  it('renders Swagger UI at /docs with its operations, runs "Try it out", and nothing is refused', async () => {
    const { page, messages, violations } = await watchedPage();
    const res = await page.goto('/docs');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.locator('.opblock').first().waitFor();
    const paths = await page.locator('.opblock-summary-path').allInnerTexts();
    expect(paths).toContain('/oauth/token');
    expect(paths.length).toBeGreaterThan(20);
    await shot(page, 'docs');

    // Open one operation and call it from the page: the request is this origin's (connect-src).
    const jwks = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/\.well-known\/jwks\.json$/ }) });
    await jwks.locator('.opblock-summary').click();
    await jwks.getByRole('button', { name: 'Try it out' }).click();
    await jwks.getByRole('button', { name: 'Execute' }).click();
    await jwks.locator('.responses-table.live-responses-table .response-col_status', { hasText: '200' }).waitFor();
    await shot(page, 'docs-try-it-out');

    expect(await violations()).toEqual([]);
    expect(complaints(messages)).toEqual([]);
    await page.close();
  });

  it("loads the web app's sign-in page and signs in, and nothing is refused", async () => {
    await createUser(server.runtime, 'csp@example.com');
    const { page, messages, violations } = await watchedPage();
    const res = await page.goto('/signin');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot(page, 'signin');
    await signInThroughForm(page, 'csp@example.com');
    await page.getByRole('button', { name: 'Settings' }).waitFor();
    await shot(page, 'signed-in');

    expect(await violations()).toEqual([]);
    expect(complaints(messages)).toEqual([]);
    await page.close();
  });
});
