import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { portcullis, tempConfigHome, type CliResult } from '../helpers/cli.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

interface CreatedClient {
  client_id: string;
  client_secret?: string;
  secret_hint: string | null;
  require_dpop: boolean;
  jwks: { keys: Record<string, string>[] };
}

/** `clients create --jwks/--no-secret/--require-dpop`, `clients keys set`, `clients update --require-dpop`, against a real server. */
describe('portcullis client keys commands', () => {
  let server: RealServer;
  let env: Record<string, string>;
  let orgId: string;
  let roleId: string;
  const audience = 'https://meters.example.com/';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-jwks-'));
  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  const cli = (args: string[]) => portcullis(args, { env });
  const ok = async (args: string[]): Promise<CliResult> => {
    const result = await cli(args);
    expect(result.code, `portcullis ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  };
  /** A client_credentials request authenticated with private_key_jwt (RFC 7523 §2.2). */
  const tokenWithKey = async (clientId: string, privateKey: CryptoKey, alg: string) => {
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: clientId, sub: clientId, aud: `${server.issuer}/oauth/token`, iat, exp: iat + 60, jti: randomUUID() }).setProtectedHeader({ alg }).sign(privateKey);
    return fetch(`${server.issuer}/oauth/token`, {
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
  };

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD, TOKEN_RATE_LIMIT: '0' });
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: server.issuer };
    const login = await portcullis(['login', '--email', ADMIN, '--password-stdin'], { env, stdin: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);
    orgId = (await ok(['orgs', 'create', '--name', 'Acme', '--json'])).json<{ id: string }>().id;
    await ok(['apis', 'create', '--identifier', audience, '--name', 'Meters', '--permission', 'meters:read']);
    roleId = (await ok(['roles', 'create', '--name', 'Meter reader', '--api', audience, '--permission', 'meters:read', '--json'])).json<{ id: string }>().id;
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a secretless client from one public JWK: no secret printed, its key gets tokens', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256' };
    const thumbprint = await calculateJwkThumbprint(jwk);
    const text = await ok(['clients', 'create', '--org', orgId, '--name', 'keyed', '--role', roleId, '--jwks', file('one.jwk', JSON.stringify(jwk)), '--no-secret']);
    expect(text.stdout).toMatch(new RegExp(`^Created client keyed in organization ${orgId}; roles: ${roleId}\\.\\n\\nclient_id: +(\\S+)\\nkeys: +${thumbprint} \\(ES256\\)\\n$`));
    expect(text.stdout).not.toContain('client_secret');
    expect(text.stderr).toBe('This client has no secret: it gets tokens with a JWT signed by one of its private keys (private_key_jwt).\n');
    const clientId = /client_id: +(\S+)/.exec(text.stdout)?.[1] ?? '';

    const got = await ok(['clients', 'get', clientId, '--org', orgId]);
    expect(got.stdout).toMatch(/secret: +\(none: keys only\)\n/);
    expect(got.stdout).toMatch(new RegExp(`keys: +${thumbprint} \\(ES256\\)\\n`));
    expect(got.stdout).toMatch(/require dpop: +no\n/);

    const res = await tokenWithKey(clientId, privateKey, 'ES256');
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token)).toMatchObject({ sub: clientId, aud: audience });

    // Its only credential cannot be removed.
    const none = await cli(['clients', 'keys', 'set', clientId, '--org', orgId, '--none']);
    expect(none.code).toBe(ExitCode.CONFLICT);
  });

  it('creates with --json from a PEM public key (--alg), with a secret too and --require-dpop', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = file('rsa.pem', await exportSPKI(publicKey));
    const created = (await ok(['clients', 'create', '--org', orgId, '--name', 'rsa', '--role', roleId, '--jwks', pem, '--alg', 'RS256', '--require-dpop', '--json'])).json<CreatedClient>();
    const expectedJwk = await exportJWK(publicKey);
    expect(created.client_secret).toMatch(/^pcs_/);
    expect(created.require_dpop).toBe(true);
    expect(created.jwks.keys).toEqual([{ kty: 'RSA', n: expectedJwk.n, e: expectedJwk.e, alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint(expectedJwk) }]);
    // Without DPoP, its secret no longer gets a token.
    const bearer = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: created.client_id, client_secret: created.client_secret ?? '', audience }),
    });
    expect(bearer.status).toBe(400);

    const off = (await ok(['clients', 'update', created.client_id, '--org', orgId, '--no-require-dpop', '--json'])).json<CreatedClient>();
    expect(off.require_dpop).toBe(false);
    const on = await ok(['clients', 'update', created.client_id, '--org', orgId, '--require-dpop']);
    expect(on.stdout).toMatch(/require dpop: +yes\n/);

    // A client with a secret may drop its keys.
    expect((await ok(['clients', 'keys', 'set', created.client_id, '--org', orgId, '--none'])).stdout).toBe(`Client ${created.client_id} now has no keys.\n`);
  });

  it('replaces keys from a JWK Set: the old key stops working, the new one works', async () => {
    const oldPair = await generateKeyPair('ES256', { extractable: true });
    const newPair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const created = (
      await ok(['clients', 'create', '--org', orgId, '--name', 'rotating', '--role', roleId, '--jwks', file('old.json', JSON.stringify(await exportJWK(oldPair.publicKey))), '--no-secret', '--json'])
    ).json<CreatedClient>();
    expect(created.client_secret).toBeUndefined();
    expect(created.secret_hint).toBeNull();

    const newJwk = { ...(await exportJWK(newPair.publicKey)), kid: 'ed-2026', alg: 'EdDSA' };
    const set = await ok(['clients', 'keys', 'set', created.client_id, '--org', orgId, '--jwks', file('set.json', JSON.stringify({ keys: [newJwk] }))]);
    expect(set.stdout).toBe(`Client ${created.client_id} now has the keys: ed-2026 (EdDSA).\n`);
    expect((await tokenWithKey(created.client_id, oldPair.privateKey, 'ES256')).status).toBe(401);
    expect((await tokenWithKey(created.client_id, newPair.privateKey, 'EdDSA')).status).toBe(200);
  });

  it('refuses bad input before sending anything: private keys, no keys for --no-secret, unreadable files, nothing to change', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = file('private.jwk', JSON.stringify(await exportJWK(privateKey)));
    const refused = await cli(['clients', 'create', '--org', orgId, '--name', 'x', '--jwks', privateJwk]);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(refused.stderr).toBe(`portcullis: Key 1 in ${privateJwk} is a private key (it has "d"); register its public part only.\n`);

    const privatePem = file('private.pem', await exportPKCS8(privateKey));
    const pemRefused = await cli(['clients', 'keys', 'set', 'cl_any', '--org', orgId, '--jwks', privatePem]);
    expect(pemRefused.code).toBe(ExitCode.USAGE);
    expect(pemRefused.stderr).toContain('is not a PEM public key');

    const noKeys = await cli(['clients', 'create', '--org', orgId, '--name', 'x', '--no-secret']);
    expect(noKeys.code).toBe(ExitCode.USAGE);
    expect(noKeys.stderr).toBe('portcullis: A client without a secret needs public keys: pass --jwks FILE with --no-secret.\n');

    const notJson = await cli(['clients', 'create', '--org', orgId, '--name', 'x', '--jwks', file('junk.txt', 'hello')]);
    expect(notJson.stderr).toBe(`portcullis: ${path.join(dir, 'junk.txt')} holds neither JSON (a JWK or a JWK Set) nor a PEM public key.\n`);
    expect((await cli(['clients', 'keys', 'set', 'cl_any', '--org', orgId])).code).toBe(ExitCode.USAGE);
    expect((await cli(['clients', 'create', '--org', orgId, '--name', 'x', '--jwks', path.join(dir, 'missing.json')])).code).toBe(ExitCode.USAGE);

    // The server's own check: a key type it does not take is a 400, exit 2, and no client is made.
    const badKty = await cli(['clients', 'create', '--org', orgId, '--name', 'x', '--jwks', file('bad.json', JSON.stringify({ kty: 'XYZ', x: 'abc' }))]);
    expect(badKty.code).toBe(ExitCode.USAGE);
    expect((await ok(['clients', 'list', '--org', orgId, '--json'])).json<{ name: string }[]>().map((c) => c.name)).not.toContain('x');
  });
});
