import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { portcullis, tempConfigHome, type CliResult } from '../helpers/cli.js';
import { startRealServer, tempDataDir } from '../helpers/server.js';
import { tampered } from '../helpers/tamper.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

interface Client {
  client_id: string;
  client_secret: string;
}

/**
 * The commands beyond orgs/apis/roles/clients basics: updates, members, users, audit, the
 * OAuth endpoints as a client, and the CLI's own credentials, against a real listening server.
 */
describe('portcullis: updates, members, users, audit, token, introspect, revoke', () => {
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let env: Record<string, string>;
  let orgId: string;
  const dataDir = tempDataDir();
  const masterKey = randomBytes(32).toString('base64');
  const audience = 'https://meters.example.com/';
  const cli = (args: string[], extra: { env?: Record<string, string | undefined>; stdin?: string } = {}) =>
    portcullis(args, { env: { ...env, ...extra.env }, ...(extra.stdin !== undefined ? { stdin: extra.stdin } : {}) });
  const ok = async (args: string[], extra?: Parameters<typeof cli>[1]): Promise<CliResult> => {
    const result = await cli(args, extra);
    expect(result.code, `portcullis ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  };

  beforeAll(async () => {
    server = await startRealServer({ dataDir, masterKey, env: { ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD } });
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: server.issuer };
    await ok(['login', '--email', ADMIN, '--password-stdin'], { stdin: PASSWORD });
    orgId = (await ok(['orgs', 'create', '--name', 'Acme Metering', '--json'])).json<{ id: string }>().id;
    await ok(['apis', 'create', '--identifier', audience, '--name', 'Meter readings', '--permission', 'meters:read', '--permission', 'meters:write']);
    await ok(['roles', 'create', '--id', 'meter-daemon', '--name', 'Meter daemon', '--api', audience, '--permission', 'meters:read', '--permission', 'meters:write']);
    // A server start and five commands: on a loaded machine this takes longer than one hook's default.
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  describe('apis update and roles update', () => {
    it('adds and removes permissions, sets and resets the token lifetime', async () => {
      const added = await ok(['apis', 'update', audience, '--add-permission', 'meters:admin=Administer meters', '--ttl', '900', '--json']);
      expect(added.json()).toMatchObject({
        access_token_ttl: 900,
        permissions: [
          { value: 'meters:admin', description: 'Administer meters' },
          { value: 'meters:read', description: '' },
          { value: 'meters:write', description: '' },
        ],
      });
      const removed = await ok(['apis', 'update', audience, '--remove-permission', 'meters:admin', '--default-ttl']);
      expect(removed.stdout).toBe(`Updated API Meter readings (${added.json<{ id: string }>().id}): meters:read meters:write.\n`);
      expect((await ok(['apis', 'get', audience, '--json'])).json()).toMatchObject({ access_token_ttl: null, name: 'Meter readings' });
    });

    it('refuses an unknown permission to remove (exit 6), nothing to change (exit 2), an unknown API (exit 6)', async () => {
      expect((await cli(['apis', 'update', audience, '--remove-permission', 'meters:nope'])).code).toBe(ExitCode.NOT_FOUND);
      const nothing = await cli(['apis', 'update', audience]);
      expect(nothing.code).toBe(ExitCode.USAGE);
      expect(nothing.stderr).toBe('portcullis: Nothing to change: pass --name, --ttl, --default-ttl or permissions.\n');
      expect((await cli(['apis', 'update', 'api_nope', '--name', 'x'])).code).toBe(ExitCode.NOT_FOUND);
    });

    it('replaces the permissions of a role on one API and renames it', async () => {
      const updated = await ok(['roles', 'update', 'meter-daemon', '--name', 'Meter reader', '--api', audience, '--permission', 'meters:read', '--json']);
      expect(updated.json()).toMatchObject({ id: 'meter-daemon', name: 'Meter reader', permissions: [{ api: audience, value: 'meters:read' }] });
      const restored = await ok(['roles', 'update', 'meter-daemon', '--file', '-'], {
        stdin: JSON.stringify({
          name: 'Meter daemon',
          permissions: [
            { api: audience, value: 'meters:read' },
            { api: audience, value: 'meters:write' },
          ],
        }),
      });
      expect(restored.stdout).toBe(`Updated role Meter daemon (meter-daemon): meters:read meters:write on ${audience}.\n`);
      expect((await cli(['roles', 'update', 'no-such-role', '--name', 'x'])).code).toBe(ExitCode.NOT_FOUND);
    });
  });

  describe('members and users', () => {
    it('adds a member by email with an invitation link, lists and removes them', async () => {
      const added = await ok(['members', 'add', '--org', orgId, '--email', 'operator@example.com', '--role', 'admin', '--json']);
      const member = added.json<{ user_id: string; email: string; role: string; status: string; invite_url: string }>();
      expect(member).toMatchObject({ email: 'operator@example.com', role: 'admin', status: 'invited' });
      expect(member.invite_url).toMatch(new RegExp(`^${server.issuer}/`));
      const table = (await ok(['members', 'list', '--org', orgId])).stdout.split('\n');
      expect(table[0]).toMatch(/^USER ID\s+EMAIL\s+NAME\s+ROLE\s+STATUS\s+SINCE$/);
      expect(table.some((l) => l.startsWith(member.user_id) && /operator@example\.com\s+-\s+admin\s+invited/.test(l))).toBe(true);
      expect((await ok(['members', 'remove', 'operator@example.com', '--org', orgId])).stdout).toBe('Removed operator@example.com from the organization.\n');
      expect((await ok(['members', 'list', '--org', orgId, '--json'])).json<unknown[]>()).toEqual([]);
      expect((await cli(['members', 'remove', 'operator@example.com', '--org', orgId])).code).toBe(ExitCode.NOT_FOUND);
      expect((await cli(['members', 'add', '--org', orgId, '--email', 'x@example.com', '--role', 'owner'])).code).toBe(ExitCode.USAGE);
    });

    it('creates users with a password from stdin or with a link, and lists them', async () => {
      const withPassword = (await ok(['users', 'create', '--email', 'ops@example.com', '--name', 'Ops', '--password-stdin', '--json'], { stdin: 'another long password\n' })).json<{
        has_password: boolean;
        invite_url?: string;
      }>();
      expect(withPassword).toMatchObject({ has_password: true });
      expect(withPassword.invite_url).toBeUndefined();
      const invited = await ok(['users', 'create', '--email', 'new@example.com']);
      expect(invited.stdout).toMatch(/^Created user new@example\.com \(\S+\)\.\n\ninvite_url: http:\/\/127\.0\.0\.1:\d+\/\S+\n$/);
      const list = (await ok(['users', 'list', '--json'])).json<{ email: string }[]>().map((u) => u.email);
      expect(list).toEqual(expect.arrayContaining([ADMIN, 'ops@example.com', 'new@example.com']));
      expect((await cli(['users', 'create', '--email', 'ops@example.com'])).code).toBe(ExitCode.CONFLICT);
      // The user that password belongs to can sign in with it.
      const login = await cli(['login', '--email', 'ops@example.com', '--password-stdin'], { env: { XDG_CONFIG_HOME: tempConfigHome() }, stdin: 'another long password' });
      expect(login.code).toBe(ExitCode.OK);
    });
  });

  describe('as an application: token, introspect, revoke', () => {
    let daemon: Client;
    const appEnv = () => ({ env: { PORTCULLIS_CLIENT_ID: daemon.client_id, PORTCULLIS_CLIENT_SECRET: daemon.client_secret } });

    beforeAll(async () => {
      daemon = (await ok(['clients', 'create', '--org', orgId, '--name', 'meter daemon', '--role', 'meter-daemon', '--json'])).json<Client>();
    });

    it('prints an access token for the audience, from the application variables', async () => {
      const result = await ok(['token', '--audience', audience], appEnv());
      const token = result.stdout.trim();
      expect(result.stdout).toBe(`${token}\n`);
      expect(decodeJwt(token)).toMatchObject({ iss: server.issuer, aud: audience, client_id: daemon.client_id, org_id: orgId, scope: 'meters:read meters:write' });
    });

    it('with --scope and --json prints the whole answer; flags work too', async () => {
      const answer = (await ok(['token', '--audience', audience, '--scope', 'meters:read', '--json', '--client-id', daemon.client_id, '--client-secret', daemon.client_secret])).json<
        Record<string, unknown>
      >();
      expect(answer).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'meters:read' });
    });

    it('maps OAuth errors to exit codes', async () => {
      const wrong = await cli(['token', '--audience', audience], { env: { PORTCULLIS_CLIENT_ID: daemon.client_id, PORTCULLIS_CLIENT_SECRET: tampered(daemon.client_secret, 6) } });
      expect(wrong.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(wrong.stderr).toContain('invalid_client');
      const scope = await cli(['token', '--audience', audience, '--scope', 'meters:admin'], appEnv());
      expect(scope.code).toBe(ExitCode.FORBIDDEN);
      expect(scope.stderr).toMatch(/^portcullis: Refused: invalid_scope/);
      expect((await cli(['token', '--audience', 'https://unknown.example.com/'], appEnv())).code).toBe(ExitCode.FORBIDDEN);
      const none = await cli(['token', '--audience', audience]);
      expect(none.code).toBe(ExitCode.USAGE);
      expect(none.stderr).toBe('portcullis: Name the client: set PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET (or pass --client-id and --client-secret).\n');
      expect((await cli(['token'], appEnv())).code).toBe(ExitCode.USAGE);
    });

    it('introspects a token read from stdin, then revokes it: introspection says inactive', async () => {
      const token = (await ok(['token', '--audience', audience], appEnv())).stdout.trim();
      const active = (await ok(['introspect', '-', '--json'], { ...appEnv(), stdin: `${token}\n` })).json<Record<string, unknown>>();
      expect(active).toMatchObject({ active: true, client_id: daemon.client_id, aud: audience, org_id: orgId });
      const human = await ok(['introspect', token], appEnv());
      expect(human.stdout).toMatch(/^active: +true$/m);
      expect((await ok(['revoke', token], appEnv())).stdout).toBe('Revoked (if it was a valid token of this client).\n');
      expect((await ok(['introspect', token, '--json'], appEnv())).json()).toEqual({ active: false });
      expect((await ok(['introspect', token], appEnv())).stdout).toBe('active: false (unknown, expired, revoked, or not of your organization)\n');
      expect((await cli(['revoke', '-'], { ...appEnv(), stdin: '' })).code).toBe(ExitCode.USAGE);
    });

    it("management commands ignore the application's variables: they act as the login session", async () => {
      // The meter-daemon README exports PORTCULLIS_CLIENT_ID/SECRET for the daemon, then rotates as the administrator.
      const rotated = await ok(['clients', 'rotate', daemon.client_id, '--org', orgId, '--json'], appEnv());
      daemon.client_secret = rotated.json<{ client_secret: string }>().client_secret;
      // Without a session, the hint names the CLI's own variables.
      const loggedOut = await cli(['clients', 'list', '--org', orgId], { env: { ...appEnv().env, XDG_CONFIG_HOME: tempConfigHome() } });
      expect(loggedOut.code).toBe(ExitCode.UNAUTHENTICATED);
      expect(loggedOut.stderr).toContain('PORTCULLIS_CLI_CLIENT_ID');
      expect(loggedOut.stderr).toContain("PORTCULLIS_CLIENT_ID is set, but it is the application's variable");
    });

    it('management commands act as a client through PORTCULLIS_CLI_CLIENT_ID/SECRET', async () => {
      const manager = (await ok(['clients', 'create', '--org', orgId, '--name', 'automation', '--role', 'client-manager', '--json'])).json<Client>();
      const who = await ok(['whoami', '--json'], { env: { PORTCULLIS_CLI_CLIENT_ID: manager.client_id, PORTCULLIS_CLI_CLIENT_SECRET: manager.client_secret, ...appEnv().env } });
      expect(who.json()).toMatchObject({ client_id: manager.client_id, organization_id: orgId });
    });
  });

  describe('audit list', () => {
    it('lists the newest events first, at most --limit', async () => {
      const events = (await ok(['audit', 'list', '--org', orgId, '--limit', '3', '--json'])).json<{ action: string; at: string }[]>();
      expect(events).toHaveLength(3);
      expect(events[0]?.action).toBe('client.created');
      expect([...events].sort((a, b) => b.at.localeCompare(a.at))).toEqual(events);
      const table = (await ok(['audit', 'list', '--org', orgId])).stdout.split('\n');
      expect(table[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+TARGET\s+IP$/);
      expect(table.some((l) => /client\.secret_rotated|client\.rotated|secret/.test(l))).toBe(true);
      expect((await cli(['audit', 'list', '--org', orgId, '--limit', '0'])).code).toBe(ExitCode.USAGE);
    });
  });

  describe('apis delete', () => {
    it('warns which roles lose their permissions, and names them in --json', async () => {
      await ok(['apis', 'create', '--identifier', 'https://spare.example.com/', '--name', 'Spare', '--permission', 'spare:read']);
      await ok(['roles', 'create', '--id', 'spare-reader', '--name', 'Spare reader', '--api', 'https://spare.example.com/', '--permission', 'spare:read']);
      const refused = await cli(['apis', 'delete', 'https://spare.example.com/']);
      expect(refused.code).toBe(ExitCode.USAGE);
      expect(refused.stderr).toContain('Warning: 1 role(s) lose their permissions on https://spare.example.com/: spare-reader (spare:read).');
      const deleted = await ok(['apis', 'delete', 'https://spare.example.com/', '--yes', '--json']);
      expect(deleted.json()).toEqual({ deleted: expect.any(String), roles_losing_permissions: ['spare-reader'] });
      expect((await ok(['roles', 'get', 'spare-reader', '--json'])).json()).toMatchObject({ permissions: [] });
    });
  });

  describe('keys list while the server runs', () => {
    it('says the embedded database is in use, without a stack trace, and exits 9', async () => {
      const result = await cli(['keys', 'list'], { env: { DATA_DIR: dataDir, MASTER_KEY: masterKey, LOG_LEVEL: 'silent' } });
      expect(result.code).toBe(ExitCode.DATABASE_IN_USE);
      expect(result.stderr).toBe(
        `portcullis: The embedded database in ${dataDir} is in use by process ${process.pid}. Stop that server first (the embedded database serves one process), or use DATABASE_URL.\n`,
      );
    });
  });
});
