import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { portcullis, tempConfigHome, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/server.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';
import { tampered } from '../helpers/tamper.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

interface Client {
  client_id: string;
  name: string;
  roles: { id: string }[];
  refresh_tokens: boolean;
  client_secret?: string;
}

/** The administrator CLI against a real, listening Portcullis, as a script and as a person would use it. */
describe('portcullis management commands', () => {
  let server: RealServer;
  let env: Record<string, string>;
  let orgId: string;
  let roleId: string;
  const audience = 'https://meters.example.com/';
  const cli = (args: string[], extra: { env?: Record<string, string | undefined>; stdin?: string } = {}) =>
    portcullis(args, { env: { ...env, ...extra.env }, ...(extra.stdin !== undefined ? { stdin: extra.stdin } : {}) });
  const ok = async (args: string[], extra?: Parameters<typeof cli>[1]): Promise<CliResult> => {
    const result = await cli(args, extra);
    expect(result.code, `portcullis ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  };
  const token = async (clientId: string, secret: string) =>
    fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, audience }),
    });

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD });
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: server.issuer };
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('login', () => {
    it('refuses a wrong password with exit code 4 and stores nothing', async () => {
      const result = await cli(['login', '--email', ADMIN, '--password-stdin'], { stdin: 'wrong password!\n' });
      expect(result.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(result.stderr).toContain('The email or password is wrong.');
      expect(fs.existsSync(path.join(env.XDG_CONFIG_HOME ?? '', 'portcullis', 'credentials.json'))).toBe(false);
    });

    it('says how to log in when not logged in (exit 4)', async () => {
      const result = await cli(['orgs', 'list']);
      expect(result.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(result.stderr).toContain(`Not logged in to ${server.issuer}.`);
      expect(result.stderr).toContain('portcullis login');
    });

    it('stores the session in a 0600 file, never the password, and never prints it', async () => {
      const result = await ok(['login', '--email', ADMIN, '--password-stdin'], { stdin: `${PASSWORD}\n` });
      expect(result.stdout).toBe(`Logged in to ${server.issuer} as ${ADMIN} (platform administrator).\n`);
      expect(result.stdout + result.stderr).not.toContain(PASSWORD);
      const file = path.join(env.XDG_CONFIG_HOME ?? '', 'portcullis', 'credentials.json');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      const stored = fs.readFileSync(file, 'utf8');
      expect(stored).not.toContain(PASSWORD);
      expect(JSON.parse(stored)).toMatchObject({ current_server: server.issuer, sessions: { [server.issuer]: { email: ADMIN, platform_admin: true } } });
    });

    it('whoami shows the signed-in user', async () => {
      const result = await ok(['whoami', '--json']);
      expect(result.json()).toMatchObject({ server: server.issuer, email: ADMIN, platform_admin: true });
    });
  });

  describe('orgs, apis and roles', () => {
    it('creates an organization and lists it, as JSON and as a table', async () => {
      orgId = (await ok(['orgs', 'create', '--name', 'Acme Metering', '--json'])).json<{ id: string }>().id;
      expect(orgId).toBeTruthy();
      expect((await ok(['orgs', 'list', '--json'])).json<{ id: string }[]>().map((o) => o.id)).toContain(orgId);
      const table = (await ok(['orgs', 'list'])).stdout.split('\n');
      expect(table[0]).toMatch(/^ID\s+NAME\s+CREATED$/);
      expect(table.some((line) => line.startsWith(orgId) && line.includes('Acme Metering'))).toBe(true);
      expect((await ok(['orgs', 'get', orgId])).stdout).toContain('name:    Acme Metering');
    });

    it('registers an API with described permissions and finds it by identifier', async () => {
      const created = await ok([
        'apis',
        'create',
        '--identifier',
        audience,
        '--name',
        'Meter readings',
        '--permission',
        'meters:read=Read meter readings',
        '--permission',
        'meters:write',
        '--ttl',
        '600',
        '--json',
      ]);
      expect(created.json()).toMatchObject({
        identifier: audience,
        access_token_ttl: 600,
        permissions: [
          { value: 'meters:read', description: 'Read meter readings' },
          { value: 'meters:write', description: '' },
        ],
      });
      const shown = await ok(['apis', 'get', audience]);
      expect(shown.stdout).toContain('token ttl:  600 seconds');
      expect(shown.stdout).toMatch(/meters:read\s+Read meter readings/);
      expect((await ok(['apis', 'list'])).stdout).toMatch(/Meter readings\s+600s\s+meters:read meters:write/);
    });

    it('creates a role of permissions on that API', async () => {
      const role = (await ok(['roles', 'create', '--name', 'Meter writer', '--api', audience, '--permission', 'meters:read', '--permission', 'meters:write', '--json'])).json<{ id: string }>();
      roleId = role.id;
      expect(roleId).toBe('meter-writer');
      expect((await ok(['roles', 'list'])).stdout).toMatch(/meter-writer\s+Meter writer\s+meters:read meters:write on https:\/\/meters\.example\.com\//);
      expect((await ok(['roles', 'list', '--org', orgId, '--json'])).json<{ id: string }[]>().map((r) => r.id)).toContain('meter-writer');
    });

    it('answers 409 conflicts with exit code 7 and bad input with exit code 2, naming the field', async () => {
      const again = await cli(['apis', 'create', '--identifier', audience, '--name', 'Again']);
      expect(again.code).toBe(ExitCode.CONFLICT);
      const bad = await cli(['roles', 'create', '--name', 'Broken', '--api', audience, '--permission', 'no such permission']);
      expect(bad.code).toBe(ExitCode.USAGE);
      expect(bad.stderr).toMatch(/^portcullis: The server rejected the request/);
    });
  });

  describe('clients', () => {
    let client: Client;

    it('creates a client and prints its secret once, with a warning on stderr', async () => {
      const result = await ok(['clients', 'create', '--org', orgId, '--name', 'meter daemon', '--role', roleId]);
      const secret = /client_secret: (pcs_\w+)/.exec(result.stdout)?.[1];
      const clientId = /client_id: +(\S+)/.exec(result.stdout)?.[1];
      expect(secret).toBeTruthy();
      expect(result.stderr).toContain('It is shown only this once');
      expect((await token(clientId ?? '', secret ?? '')).status).toBe(200);
      // --json carries the secret in the JSON, the warning still on stderr.
      const json = await ok(['clients', 'create', '--org', orgId, '--name', 'second', '--role', roleId, '--json']);
      client = json.json<Client>();
      expect(client.client_secret).toMatch(/^pcs_/);
      expect(json.stderr).toContain('Warning: store this client secret now');
    });

    it('lists and shows clients, never with a secret', async () => {
      const list = await ok(['clients', 'list', '--org', orgId]);
      expect(list.stdout).toMatch(/^CLIENT ID\s+NAME\s+ROLES\s+SECRET\s+REFRESH\s+LAST USED$/m);
      expect(list.stdout).toContain(client.client_id);
      expect(list.stdout).not.toContain(client.client_secret);
      const shown = await ok(['clients', 'get', client.client_id, '--org', orgId, '--json']);
      expect(shown.json()).toMatchObject({ client_id: client.client_id, roles: [{ id: roleId }] });
      expect(shown.stdout).not.toContain('client_secret');
    });

    it('rotates the secret: the new one works, the old one is refused at once', async () => {
      const rotated = await ok(['clients', 'rotate', client.client_id, '--org', orgId, '--json']);
      const { client_secret } = rotated.json<{ client_secret: string }>();
      expect(rotated.stderr).toContain('shown only this once');
      expect((await token(client.client_id, client_secret)).status).toBe(200);
      const old = await token(client.client_id, client.client_secret ?? '');
      expect(old.status).toBe(401);
      expect(await old.json()).toMatchObject({ error: 'invalid_client' });
      client.client_secret = client_secret;
    });

    it('rotates with a grace period, saying until when the old secret works', async () => {
      const result = await ok(['clients', 'rotate', client.client_id, '--org', orgId, '--grace-period', '300']);
      expect(result.stdout).toMatch(/the previous secret keeps working until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
      expect((await token(client.client_id, client.client_secret ?? '')).status).toBe(200);
      client.client_secret = /client_secret: (pcs_\w+)/.exec(result.stdout)?.[1];
    });

    it('sets roles and turns refresh tokens on', async () => {
      const none = await ok(['clients', 'roles', 'set', client.client_id, '--none', '--org', orgId, '--json']);
      expect(none.json<Client>().roles).toEqual([]);
      expect((await token(client.client_id, client.client_secret ?? '')).status).toBe(400);
      await ok(['clients', 'roles', 'set', client.client_id, roleId, '--org', orgId]);
      expect((await token(client.client_id, client.client_secret ?? '')).status).toBe(200);
      expect((await cli(['clients', 'roles', 'set', client.client_id, '--org', orgId])).code).toBe(ExitCode.USAGE);
      const updated = await ok(['clients', 'update', client.client_id, '--refresh-tokens', '--org', orgId, '--json']);
      expect(updated.json<Client>().refresh_tokens).toBe(true);
      const answer = (await (await token(client.client_id, client.client_secret ?? '')).json()) as { refresh_token?: string };
      expect(answer.refresh_token).toMatch(/^pcr_/);
    });

    it('deletes only with --yes when there is no terminal, then the client is gone (exit 6)', async () => {
      const refused = await cli(['clients', 'delete', client.client_id, '--org', orgId]);
      expect(refused.code).toBe(ExitCode.USAGE);
      expect(refused.stderr).toContain('--yes');
      await ok(['clients', 'delete', client.client_id, '--org', orgId, '--yes']);
      const gone = await cli(['clients', 'get', client.client_id, '--org', orgId]);
      expect(gone.code).toBe(ExitCode.NOT_FOUND);
      expect((await token(client.client_id, client.client_secret ?? '')).status).toBe(401);
    });

    it('asks for --org when the user belongs to no single organization', async () => {
      const result = await cli(['clients', 'list']);
      expect(result.code).toBe(ExitCode.USAGE);
      expect(result.stderr).toContain('--org');
    });
  });

  describe('as a client (client credentials)', () => {
    let manager: { id: string; secret: string };
    let reader: { id: string; secret: string };

    beforeAll(async () => {
      const m = (await ok(['clients', 'create', '--org', orgId, '--name', 'automation', '--role', 'client-manager', '--json'])).json<Client>();
      const r = (await ok(['clients', 'create', '--org', orgId, '--name', 'auditor', '--role', 'client-reader', '--json'])).json<Client>();
      manager = { id: m.client_id, secret: m.client_secret ?? '' };
      reader = { id: r.client_id, secret: r.client_secret ?? '' };
    });
    const as = (c: { id: string; secret: string }) => ({ env: { PORTCULLIS_CLI_CLIENT_ID: c.id, PORTCULLIS_CLI_CLIENT_SECRET: c.secret } });

    it('manages its own organization without --org, from the environment', async () => {
      const who = await ok(['whoami', '--json'], as(manager));
      const facts = who.json<{ client_id: string; organization_id: string; permissions: string[] }>();
      expect(facts).toMatchObject({ client_id: manager.id, organization_id: orgId });
      expect([...facts.permissions].sort()).toEqual(['audit:read', 'clients:read', 'clients:write', 'roles:read']);
      const created = (await ok(['clients', 'create', '--name', 'made by automation', '--role', roleId, '--json'], as(manager))).json<Client>();
      expect((await ok(['clients', 'list', '--json'], as(manager))).json<Client[]>().map((c) => c.client_id)).toContain(created.client_id);
      await ok(['clients', 'delete', created.client_id, '--yes'], as(manager));
    });

    it('also takes --client-id and --client-secret', async () => {
      await ok(['clients', 'list', '--client-id', manager.id, '--client-secret', manager.secret]);
    });

    it('exits 5 with the missing permission named, for a token without clients:write', async () => {
      const result = await cli(['clients', 'create', '--name', 'nope'], as(reader));
      expect(result.code).toBe(ExitCode.FORBIDDEN);
      expect(result.stderr).toContain('Not allowed: The token lacks the clients:write permission.');
      expect(result.stderr).toContain('client-manager');
    });

    it('exits 5 for what only a user may do', async () => {
      const result = await cli(['orgs', 'create', '--name', 'Not by a client'], as(manager));
      expect(result.code).toBe(ExitCode.FORBIDDEN);
    });

    it('exits 5 for a client holding no management permission at all', async () => {
      const plain = (await ok(['clients', 'create', '--org', orgId, '--name', 'plain', '--role', roleId, '--json'])).json<Client>();
      const result = await cli(['clients', 'list'], as({ id: plain.client_id, secret: plain.client_secret ?? '' }));
      expect(result.code).toBe(ExitCode.FORBIDDEN);
      expect(result.stderr).toContain('holds no permission on the management API');
    });

    it('exits 4 for a wrong secret', async () => {
      const result = await cli(['clients', 'list'], as({ id: manager.id, secret: tampered(manager.secret, 6) }));
      expect(result.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(result.stderr).toContain('invalid_client');
    });
  });

  describe('failures scripts can tell apart', () => {
    it('exits 3 with a clear message when the server is down', async () => {
      const down = `http://127.0.0.1:${await freePort()}`;
      const result = await cli(['clients', 'list', '--server', down, '--org', 'x'], { env: { PORTCULLIS_CLI_CLIENT_ID: 'c', PORTCULLIS_CLI_CLIENT_SECRET: 's' } });
      expect(result.code).toBe(ExitCode.UNREACHABLE);
      expect(result.stderr).toBe(`portcullis: Cannot reach Portcullis at ${down} (connection refused). Is the server running? Set --server or PORTCULLIS_SERVER to point elsewhere.\n`);
    });

    it('exits 2 for usage errors, 0 for help', async () => {
      expect((await cli(['clients', 'list', '--no-such-option'])).code).toBe(ExitCode.USAGE);
      expect((await cli(['clients', 'create'])).code).toBe(ExitCode.USAGE);
      expect((await cli(['clients', 'rotate', 'x', '--grace-period', 'soon'])).code).toBe(ExitCode.USAGE);
      expect((await cli(['frobnicate'])).code).toBe(ExitCode.USAGE);
      const help = await cli(['clients', '--help']);
      expect(help.code).toBe(ExitCode.OK);
      expect(help.stdout).toContain('rotate');
    });

    it('exits 4 and forgets the session once the server has ended it', async () => {
      await ok(['logout']);
      expect((await cli(['orgs', 'list'])).code).toBe(ExitCode.UNAUTHENTICATED);
      // A session the server no longer knows (here: ended behind the CLI's back).
      await ok(['login', '--email', ADMIN, '--password-stdin'], { stdin: PASSWORD });
      const file = path.join(env.XDG_CONFIG_HOME ?? '', 'portcullis', 'credentials.json');
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { sessions: Record<string, { cookie: string }> };
      const session = stored.sessions[server.issuer];
      if (session) session.cookie = 'ended';
      fs.writeFileSync(file, JSON.stringify(stored));
      const result = await cli(['orgs', 'list']);
      expect(result.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(result.stderr).toContain('Your session on');
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).sessions[server.issuer]).toBeUndefined();
    });
  });
});
