import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import type { RunningServer } from '../../src/main.js';
import { expectNoHorizontalScroll, launchBrowser, newContext, screenshots, seedCatalog, signInThroughForm, skipBrowserTests, skipReason, warnIfSkipped } from '../helpers/browser.js';
import { createUser } from '../helpers/management.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';

warnIfSkipped();

/**
 * A client without a secret, made in the web app from a pasted public key: its keys are
 * listed by thumbprint, replaced, and really work — checked with a private_key_jwt token
 * request (RFC 7523 §2.2) signed here with the private key the browser never saw.
 */
describe.skipIf(skipBrowserTests)(skipBrowserTests ? skipReason : 'admin web app in Chromium: client public keys', () => {
  let server: RunningServer & { issuer: string };
  let browser: Browser;
  let audience: string;
  const orgs: Record<string, string> = {};

  beforeAll(async () => {
    [server, browser] = await Promise.all([startRealServer({ dataDir: tempDataDir(), env: { TOKEN_RATE_LIMIT: '0' } }), launchBrowser()]);
    const { runtime } = server;
    audience = await seedCatalog(runtime);
    for (const size of ['desktop', 'phone']) {
      orgs[size] = (await runtime.organizations.create({ name: `Acme ${size}` }, SYSTEM_ACTOR)).id;
      await createUser(runtime, `dana-${size}@acme.example.com`, { orgId: orgs[size]!, role: 'admin' });
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const tokenWithKey = async (clientId: string, privateKey: CryptoKey, alg: string) => {
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: clientId, sub: clientId, aud: `${server.issuer}/oauth/token`, iat, exp: iat + 60, jti: randomUUID() }).setProtectedHeader({ alg }).sign(privateKey);
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        audience,
      }),
    });
    return { status: res.status, body: (await res.json()) as { scope?: string; error?: string } };
  };

  for (const size of ['desktop', 'phone'] as const) {
    describe(size, () => {
      let context: BrowserContext;
      let page: Page;
      const shot = screenshots(`client-keys-${size}`);
      const card = (name: string): Locator => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });

      beforeAll(async () => {
        context = await newContext(browser, server.issuer, { phone: size === 'phone' });
        page = await context.newPage();
        await signInThroughForm(page, `dana-${size}@acme.example.com`);
        await page.goto(`/organizations/${orgs[size]}/api`);
      });
      afterAll(async () => {
        await context?.close();
      });

      it('creates a secretless client from a pasted JWK, replaces its key with a PEM one; each key gets a token, the replaced one no longer', async () => {
        const first = await generateKeyPair('ES256', { extractable: true });
        const firstJwk = { ...(await exportJWK(first.publicKey)), alg: 'ES256' };
        const firstThumbprint = await calculateJwkThumbprint(firstJwk);

        await page.getByRole('button', { name: 'Create client' }).first().click();
        const form = page.getByRole('dialog', { name: 'Create client' });
        await form.getByLabel('Name').fill('Keyed daemon');
        await form.getByRole('checkbox', { name: /Meter reader/ }).check();
        await form.getByRole('checkbox', { name: /Use a public key instead of a secret/ }).check();
        // A private key is refused in the browser, with the reason next to Save.
        const { privateKey: strayPrivate } = await generateKeyPair('ES256', { extractable: true });
        await form.getByLabel('Public key', { exact: true }).fill(JSON.stringify(await exportJWK(strayPrivate)));
        await form.getByRole('button', { name: 'Save' }).click();
        await form.getByRole('alert').filter({ hasText: 'Key 1 is a private key' }).waitFor();
        await form.getByLabel('Public key', { exact: true }).fill(JSON.stringify(firstJwk));
        await shot(page, 'create-with-public-key');
        await form.getByRole('button', { name: 'Save' }).click();
        await form.waitFor({ state: 'detached' });

        const created = card('Keyed daemon');
        await created.waitFor();
        const clientId = (await created.getAttribute('data-client-id'))!;
        expect(await created.getByTestId('client-secret').count()).toBe(0);
        expect(await created.getByTestId('no-secret').innerText()).toMatch(/Created without a secret[\s\S]*no secret to copy/);
        expect(await created.innerText()).toContain('None: it authenticates with its public keys');
        expect(await created.getByRole('button', { name: 'Rotate secret of Keyed daemon' }).count()).toBe(0);
        const keys = created.getByRole('region', { name: 'Public keys of Keyed daemon' });
        expect(await keys.locator('.key-list li').allInnerTexts()).toEqual([expect.stringMatching(new RegExp(`^${firstThumbprint}\\s+ES256$`))]);
        expect(await keys.getByRole('button', { name: 'Remove keys of Keyed daemon' }).isDisabled()).toBe(true);
        await expectNoHorizontalScroll(page);
        await shot(page, 'secretless-client-created');

        expect(await tokenWithKey(clientId, first.privateKey, 'ES256')).toEqual({ status: 200, body: expect.objectContaining({ scope: 'meters:read' }) });

        // Replace the key with an RSA one pasted as PEM: converted in the browser for the chosen algorithm.
        const second = await generateKeyPair('RS256', { extractable: true });
        const secondThumbprint = await calculateJwkThumbprint(await exportJWK(second.publicKey));
        await keys.getByRole('button', { name: 'Replace keys of Keyed daemon' }).click();
        const replace = page.getByRole('dialog', { name: 'Replace public keys' });
        await replace.getByLabel('Public key', { exact: true }).fill(await exportSPKI(second.publicKey));
        await replace.getByLabel('Algorithm of the PEM key').selectOption('RS256');
        await shot(page, 'replace-keys-pem');
        await replace.getByRole('button', { name: 'Save' }).click();
        await replace.waitFor({ state: 'detached' });
        await expect.poll(() => keys.locator('.key-list li').allInnerTexts()).toEqual([expect.stringMatching(new RegExp(`^${secondThumbprint}\\s+RS256$`))]);

        expect(await tokenWithKey(clientId, second.privateKey, 'RS256')).toEqual({ status: 200, body: expect.objectContaining({ scope: 'meters:read' }) });
        expect(await tokenWithKey(clientId, first.privateKey, 'ES256')).toEqual({ status: 401, body: expect.objectContaining({ error: 'invalid_client' }) });

        // Require DPoP: a plain bearer request with the key is refused from then on; it survives a reload.
        await keys.getByRole('checkbox', { name: /Require DPoP-bound tokens/ }).check();
        await expect.poll(async () => (await tokenWithKey(clientId, second.privateKey, 'RS256')).status).toBe(400);
        await page.reload();
        expect(
          await card('Keyed daemon')
            .getByRole('checkbox', { name: /Require DPoP-bound tokens/ })
            .isChecked(),
        ).toBe(true);
        await shot(page, 'keys-and-dpop-after-reload');
      });

      it('adds a key to a client with a secret, then removes it: the key gets a token only while it is registered', async () => {
        await page.getByRole('button', { name: 'Create client' }).first().click();
        const form = page.getByRole('dialog', { name: 'Create client' });
        await form.getByLabel('Name').fill('Secret daemon');
        await form.getByRole('checkbox', { name: /Meter reader/ }).check();
        await form.getByRole('button', { name: 'Save' }).click();
        await form.waitFor({ state: 'detached' });
        const created = card('Secret daemon');
        const clientId = (await created.getAttribute('data-client-id'))!;
        expect(await created.getByTestId('client-secret').innerText()).toMatch(/^pcs_/);
        const keys = created.getByRole('region', { name: 'Public keys of Secret daemon' });
        expect(await keys.innerText()).toContain('None: it authenticates with its secret.');
        expect(await keys.getByRole('button', { name: 'Remove keys of Secret daemon' }).count()).toBe(0);

        const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
        await keys.getByRole('button', { name: 'Add keys of Secret daemon' }).click();
        const add = page.getByRole('dialog', { name: 'Replace public keys' });
        await add.getByLabel('Public key', { exact: true }).fill(JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'edge-1', alg: 'EdDSA' }] }));
        await add.getByRole('button', { name: 'Save' }).click();
        await add.waitFor({ state: 'detached' });
        await expect.poll(() => keys.locator('.key-list li').allInnerTexts()).toEqual([expect.stringMatching(/^edge-1\s+EdDSA$/)]);
        expect(await tokenWithKey(clientId, pair.privateKey, 'EdDSA')).toEqual({ status: 200, body: expect.objectContaining({ scope: 'meters:read' }) });

        const remove = keys.getByRole('button', { name: 'Remove keys of Secret daemon' });
        expect(await remove.isDisabled()).toBe(false);
        await remove.click();
        const confirm = page.getByRole('dialog', { name: 'Remove public keys' });
        await shot(page, 'remove-keys');
        await confirm.getByRole('button', { name: 'Remove keys' }).click();
        await confirm.waitFor({ state: 'detached' });
        await keys.getByText('None: it authenticates with its secret.').waitFor();
        expect(await tokenWithKey(clientId, pair.privateKey, 'EdDSA')).toEqual({ status: 401, body: expect.objectContaining({ error: 'invalid_client' }) });
      });

      it('shows the server’s refusal of a key it cannot use next to Save, and creates nothing', async () => {
        await page.getByRole('button', { name: 'Create client' }).first().click();
        const form = page.getByRole('dialog', { name: 'Create client' });
        await form.getByLabel('Name').fill('Bad key');
        await form.getByRole('checkbox', { name: /Meter reader/ }).check();
        await form.getByRole('checkbox', { name: /Use a public key instead of a secret/ }).check();
        await form.getByLabel('Public key', { exact: true }).fill(JSON.stringify({ kty: 'XYZ', x: 'abc' }));
        await form.getByRole('button', { name: 'Save' }).click();
        const alert = form.getByRole('alert');
        await alert.waitFor();
        expect(await alert.innerText()).toMatch(/^The JWK Set is not acceptable: kty must be one of EC, OKP, RSA\.\s+kty: kty must be one of EC, OKP, RSA$/);
        await shot(page, 'create-bad-key-refused');
        await form.getByRole('button', { name: 'Cancel' }).click();
        expect(await card('Bad key').count()).toBe(0);
      });
    });
  }
});
