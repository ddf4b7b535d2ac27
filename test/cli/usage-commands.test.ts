import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { portcullis, tempConfigHome, type CliResult } from '../helpers/cli.js';
import { startSdkServer, type RealServer } from '../helpers/sdk.js';
import { clearOfBoundary } from '../helpers/clock.js';

const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery staple';

/** `clients usage`, `orgs policy get|set`, and the quota and claim flags of clients create/update, against a real server. */
describe('portcullis usage and policy commands', () => {
  let server: RealServer;
  let env: Record<string, string>;
  let orgId: string;
  let roleId: string;
  const audience = 'https://meters.example.com/';
  const cli = (args: string[], stdin?: string) => portcullis(args, { env, ...(stdin !== undefined ? { stdin } : {}) });
  const ok = async (args: string[], stdin?: string): Promise<CliResult> => {
    const result = await cli(args, stdin);
    expect(result.code, `portcullis ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  };
  const token = (clientId: string, secret: string) =>
    fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, audience }),
    });

  beforeAll(async () => {
    server = await startSdkServer({ ADMIN_EMAIL: ADMIN, ADMIN_PASSWORD: PASSWORD, USAGE_FLUSH_INTERVAL: '1', TOKEN_RATE_LIMIT: '0' });
    env = { XDG_CONFIG_HOME: tempConfigHome(), PORTCULLIS_SERVER: server.issuer };
    await ok(['login', '--email', ADMIN, '--password-stdin'], `${PASSWORD}\n`);
    orgId = (await ok(['orgs', 'create', '--name', 'Acme', '--json'])).json<{ id: string }>().id;
    await ok(['apis', 'create', '--identifier', audience, '--name', 'Meters', '--permission', 'meters:read']);
    roleId = (await ok(['roles', 'create', '--name', 'Meter reader', '--api', audience, '--permission', 'meters:read', '--json'])).json<{ id: string }>().id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates a client with a token quota and claims; its tokens carry the claims and stop at the quota; usage shows them', async () => {
    // The quota and the usage below count in the server's real hour: all of this in one.
    await clearOfBoundary('hour', 15_000);
    const created = (await ok(['clients', 'create', '--org', orgId, '--name', 'daemon', '--role', roleId, '--token-quota', '2/hour', '--claim', 'tier=3', '--claim', 'team=ops', '--json'])).json<{
      client_id: string;
      client_secret: string;
      token_quota: unknown;
      token_claims: unknown;
    }>();
    expect(created.token_quota).toEqual({ limit: 2, per: 'hour' });
    expect(created.token_claims).toEqual({ tier: 3, team: 'ops' });
    const first = await token(created.client_id, created.client_secret);
    expect(first.status).toBe(200);
    const payload = JSON.parse(Buffer.from(((await first.json()) as { access_token: string }).access_token.split('.')[1] ?? '', 'base64url').toString());
    expect(payload).toMatchObject({ tier: 3, team: 'ops' });
    expect((await token(created.client_id, created.client_secret)).status).toBe(200);
    const refused = await token(created.client_id, created.client_secret);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toBe('quota_exceeded');

    // Counts reach the database within the flush interval.
    let usage: { data: { tokens: number; failed: number }[]; redundant_tokens: number; failed_by_error: Record<string, number> } | undefined;
    for (let i = 0; i < 100; i++) {
      usage = (await ok(['clients', 'usage', created.client_id, '--org', orgId, '--json'])).json();
      if (usage?.data.at(-1)?.failed === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(usage?.data).toHaveLength(24);
    expect(usage?.data.at(-1)).toMatchObject({ tokens: 2, failed: 1 });
    expect(usage?.redundant_tokens).toBe(1);
    expect(usage?.failed_by_error).toEqual({ quota_exceeded: 1 });
    const human = await ok(['clients', 'usage', created.client_id, '--org', orgId, '--granularity', 'day']);
    const lines = human.stdout.split('\n');
    expect(lines[0]).toMatch(/^START \(UTC\)\s+TOKENS\s+FAILED$/);
    expect(lines).toContain(`${new Date().toISOString().slice(0, 10)}   2       1`);
    expect(human.stdout).toContain('2 tokens, 1 redundant');
    expect(human.stdout).toContain('Failed: quota_exceeded 1.');

    const bad = await cli(['clients', 'usage', created.client_id, '--org', orgId, '--from', '2020-01-01T00:00:00Z']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('range');
  });

  it('updates the quota and the claims (from a file), and refuses a malformed quota with the usage exit code', async () => {
    const c = (await ok(['clients', 'create', '--org', orgId, '--name', 'second', '--role', roleId, '--json'])).json<{ client_id: string }>();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'claims-')), 'claims.json');
    fs.writeFileSync(file, JSON.stringify({ region: 'eu', tier: '3' }));
    const updated = (await ok(['clients', 'update', c.client_id, '--org', orgId, '--token-quota', '500/day', '--claims', file, '--json'])).json();
    expect(updated).toMatchObject({ token_quota: { limit: 500, per: 'day' }, token_claims: { region: 'eu', tier: '3' } });
    const shown = await ok(['clients', 'get', c.client_id, '--org', orgId]);
    expect(shown.stdout).toContain('token quota:    500/day');
    expect((await ok(['clients', 'update', c.client_id, '--org', orgId, '--token-quota', 'none', '--json'])).json()).toMatchObject({ token_quota: null });
    const malformed = await cli(['clients', 'update', c.client_id, '--org', orgId, '--token-quota', 'lots']);
    expect(malformed.code).toBe(ExitCode.USAGE);
    expect(malformed.stderr).toContain('LIMIT/hour or LIMIT/day expected');
    const reserved = await cli(['clients', 'update', c.client_id, '--org', orgId, '--claim', 'sub=me']);
    expect(reserved.code).not.toBe(0);
    expect(reserved.stderr).toContain('token_claims may not use "sub"');
  });

  it('orgs policy set changes only the flags given and shows the clients out of policy; get shows it again', async () => {
    const set = await ok(['orgs', 'policy', 'set', orgId, '--max-clients', '10', '--no-refresh-tokens', '--json']);
    expect(set.json()).toMatchObject({ max_clients: 10, refresh_tokens_allowed: false, assignable_roles: null, token_quota: null, client_count: 2, out_of_policy: [] });
    const again = await ok(['orgs', 'policy', 'set', orgId, '--token-quota', '1/day', '--assignable-role', roleId, '--json']);
    expect(again.json()).toMatchObject({ max_clients: 10, refresh_tokens_allowed: false, token_quota: { limit: 1, per: 'day' }, assignable_roles: [roleId] });
    const shown = await ok(['orgs', 'policy', 'get', orgId]);
    expect(shown.stdout).toContain('max clients:          10 (has 2)');
    expect(shown.stdout).toContain('refresh tokens:       not allowed');
    expect(shown.stdout).toContain('Clients out of policy:');
    expect(shown.stdout).toContain("token_quota: the client's quota exceeds the organization's; the organization's quota applies");
    expect((await ok(['orgs', 'policy', 'set', orgId, '--max-clients', 'none', '--all-roles', '--json'])).json()).toMatchObject({ max_clients: null, assignable_roles: null });
    expect((await cli(['orgs', 'policy', 'set', orgId, '--max-clients', '-1'])).code).toBe(ExitCode.USAGE);
  });
});
