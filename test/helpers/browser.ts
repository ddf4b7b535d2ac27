import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { Runtime } from '../../src/runtime.js';
import { CHROMIUM, skipBrowserTests, skipReason } from './chromium.js';
import { PASSWORD } from './management.js';
import { basic } from './portcullis.js';

export { skipBrowserTests, skipReason } from './chromium.js';

let warned = false;
export function warnIfSkipped(): void {
  if (skipBrowserTests && !warned) {
    warned = true;
    console.warn(`\n  ⚠ ${skipReason}\n`);
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
}

export const VIEWPORT = { width: 1280, height: 800 };
/** A phone held upright (an iPhone 14's CSS pixels), emulated with touch and the mobile viewport. */
export const PHONE = { width: 390, height: 844 };

/** A fresh browser profile on the server, allowed to use the clipboard (the copy buttons); `phone` emulates a phone. */
export async function newContext(browser: Browser, issuer: string, opts: { phone?: boolean } = {}): Promise<BrowserContext> {
  const device = opts.phone ? { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : { viewport: VIEWPORT };
  const context = await browser.newContext({ baseURL: issuer, ...device, locale: 'en-GB', timezoneId: 'UTC', reducedMotion: 'reduce' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: issuer });
  // Bounded waits: a missing element fails the step in seconds, not at the test timeout.
  context.setDefaultTimeout(8_000);
  context.setDefaultNavigationTimeout(15_000);
  return context;
}

/** Screenshots of each step, numbered, in test-results/e2e/<suite>/ (gitignored). */
export function screenshots(suite: string) {
  const dir = path.join('test-results', 'e2e', suite);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page: Page, step: string): Promise<void> => {
    n += 1;
    await page.screenshot({ path: path.join(dir, `${String(n).padStart(2, '0')}-${step}.png`), animations: 'disabled', caret: 'hide' });
  };
}

/** The page scrolls only vertically: nothing is wider than the viewport. */
export async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = (await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })')) as { scrollWidth: number; innerWidth: number };
  expect(scrollWidth, `${page.url()} is ${scrollWidth} px wide in a ${innerWidth} px viewport`).toBeLessThanOrEqual(innerWidth);
}

export async function signInThroughForm(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/signin');
}

export async function clipboardText(page: Page): Promise<string> {
  return page.evaluate('navigator.clipboard.readText()') as Promise<string>;
}

/** The client credentials grant, as an application would call it, against the running server. */
export async function requestToken(issuer: string, clientId: string, secret: string, audience: string): Promise<{ status: number; body: { scope?: string; error?: string } }> {
  const res = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience }),
  });
  return { status: res.status, body: (await res.json()) as { scope?: string; error?: string } };
}

export async function expectToken(issuer: string, clientId: string, secret: string, audience: string, scope: string): Promise<void> {
  const res = await requestToken(issuer, clientId, secret, audience);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.scope).toBe(scope);
}

export async function expectRefused(issuer: string, clientId: string, secret: string, audience: string): Promise<void> {
  const res = await requestToken(issuer, clientId, secret, audience);
  expect(res.status, JSON.stringify(res.body)).toBe(401);
  expect(res.body.error).toBe('invalid_client');
}

/** An API with read and write permissions and a role for each, the way a platform admin sets them up. */
export async function seedCatalog(runtime: Runtime, identifier = 'https://meters.example.com/') {
  await runtime.catalogService.createApi(
    {
      identifier,
      name: 'Meters',
      permissions: [
        { value: 'meters:read', description: 'Read meter readings' },
        { value: 'meters:write', description: 'Record meter readings' },
      ],
    },
    SYSTEM_ACTOR,
  );
  await runtime.catalogService.createRole({ id: 'meter-reader', name: 'Meter reader', description: 'Reads meter readings', permissions: [{ api: identifier, value: 'meters:read' }] }, SYSTEM_ACTOR);
  await runtime.catalogService.createRole({ id: 'meter-writer', name: 'Meter writer', description: 'Records meter readings', permissions: [{ api: identifier, value: 'meters:write' }] }, SYSTEM_ACTOR);
  return identifier;
}
