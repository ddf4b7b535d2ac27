import { InvalidArgumentError, type Command } from 'commander';
import { noneAsNull, parseQuota } from '../client-limits.js';
import { action, connectionOptions, seg, type CommandContext, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { collect, type Policy, type Usage } from '../wire.js';

/** `portcullis clients usage` and `portcullis orgs policy get|set` (docs/usage-and-quotas.md). Registered after the clients and orgs commands. */
export function registerUsageCommands(program: Command, io: CliIo): void {
  const sub = (name: string) => {
    const found = program.commands.find((c) => c.name() === name);
    if (!found) throw new Error(`register the ${name} commands first`);
    return found;
  };

  connectionOptions(
    sub('clients')
      .command('usage')
      .description("A client's tokens and failed token requests by UTC hour or day (counts appear within a minute).")
      .argument('<client_id>')
      .option('--granularity <hour|day>', 'bucket size (default hour: the last 24 hours; day: the last 30 days)', parseGranularity)
      .option('--from <time>', 'ISO 8601 start, e.g. 2026-11-01T00:00:00Z')
      .option('--to <time>', 'ISO 8601 end'),
    { org: true },
  ).action(
    action<ConnectionOptions & { granularity?: string; from?: string; to?: string }, [string]>(io, async (ctx, clientId) => {
      const query = new URLSearchParams();
      for (const key of ['granularity', 'from', 'to'] as const) {
        const value = ctx.options[key];
        if (value !== undefined) query.set(key, value);
      }
      const qs = query.size > 0 ? `?${query}` : '';
      const usage = await ctx.api().get<Usage>(`/organizations/${seg(await ctx.orgId())}/clients/${seg(clientId)}/usage${qs}`);
      ctx.print.result(usage, () => {
        ctx.print.table(
          usage.data,
          [
            { header: 'START (UTC)', value: (b) => b.start.slice(0, usage.granularity === 'hour' ? 16 : 10).replace('T', ' ') },
            { header: 'TOKENS', value: (b) => String(b.tokens) },
            { header: 'FAILED', value: (b) => String(b.failed) },
          ],
          'No buckets.',
        );
        ctx.print.line();
        const tokens = usage.data.reduce((n, b) => n + b.tokens, 0);
        ctx.print.line(`${tokens} tokens, ${usage.redundant_tokens} redundant (issued while an earlier token for the same API had more than half its life left).`);
        const failures = Object.entries(usage.failed_by_error);
        if (failures.length > 0) ctx.print.line(`Failed: ${failures.map(([code, n]) => `${code} ${n}`).join(', ')}.`);
      });
    }),
  );

  const policy = sub('orgs').command('policy').description("An organization's policy: assignable roles, client limit, token quota, token lifetime, refresh tokens, secret age.");
  connectionOptions(policy.command('get').description('Show the policy and the clients it does not fit (organization admin).').argument('<org>', 'organization id')).action(
    action<ConnectionOptions, [string]>(io, async (ctx, org) => {
      const p = await ctx.api().get<Policy>(`/organizations/${seg(org)}/policy`);
      ctx.print.result(p, () => showPolicy(ctx, p));
    }),
  );
  connectionOptions(
    policy
      .command('set')
      .description('Change the policy (platform administrator): the flags given change, the rest stays. `none` removes a limit.')
      .argument('<org>', 'organization id')
      .option('--assignable-role <id>', 'a role the organization may assign (repeatable; replaces the list)', collect)
      .option('--all-roles', 'every role is assignable')
      .option('--max-clients <n|none>', 'at most this many clients', limit(0, 1_000_000))
      .option('--token-quota <limit/per|none>', "the organization's token quota, e.g. 100000/day", parseQuota)
      .option('--max-access-token-ttl <seconds|none>', "caps access tokens' lifetime", limit(60, 86400))
      .option('--refresh-tokens', 'allow refresh tokens')
      .option('--no-refresh-tokens', 'issue no refresh tokens')
      .option('--secret-max-age-days <n|none>', 'secrets stop working this many days after they were made', limit(1, 3650)),
  ).action(
    action<
      ConnectionOptions & {
        assignableRole?: string[];
        allRoles?: boolean;
        maxClients?: number | 'none';
        tokenQuota?: { limit: number; per: 'hour' | 'day' } | 'none';
        maxAccessTokenTtl?: number | 'none';
        refreshTokens?: boolean;
        secretMaxAgeDays?: number | 'none';
      },
      [string]
    >(io, async (ctx, org) => {
      const o = ctx.options;
      if (o.assignableRole && o.allRoles) throw new CliError('Pass either --assignable-role or --all-roles.', ExitCode.USAGE);
      const path = `/organizations/${seg(org)}/policy`;
      const { client_count: _count, out_of_policy: _out, ...current } = await ctx.api().get<Policy>(path);
      const next = {
        ...current,
        ...(o.assignableRole ? { assignable_roles: o.assignableRole } : {}),
        ...(o.allRoles ? { assignable_roles: null } : {}),
        ...(o.maxClients !== undefined ? { max_clients: noneAsNull(o.maxClients) } : {}),
        ...(o.tokenQuota !== undefined ? { token_quota: noneAsNull(o.tokenQuota) } : {}),
        ...(o.maxAccessTokenTtl !== undefined ? { max_access_token_ttl: noneAsNull(o.maxAccessTokenTtl) } : {}),
        ...(o.refreshTokens !== undefined ? { refresh_tokens_allowed: o.refreshTokens } : {}),
        ...(o.secretMaxAgeDays !== undefined ? { secret_max_age_days: noneAsNull(o.secretMaxAgeDays) } : {}),
      };
      const p = await ctx.api().put<Policy>(path, next);
      ctx.print.result(p, () => showPolicy(ctx, p));
    }),
  );
}

function showPolicy(ctx: CommandContext, p: Policy): void {
  const or = (v: number | null, unit = '') => (v === null ? 'no limit' : `${v}${unit}`);
  ctx.print.record([
    ['assignable roles', p.assignable_roles === null ? 'all' : p.assignable_roles.join(', ') || 'none'],
    ['max clients', `${or(p.max_clients)} (has ${p.client_count})`],
    ['token quota', p.token_quota ? `${p.token_quota.limit}/${p.token_quota.per}` : 'no limit'],
    ['max access token ttl', or(p.max_access_token_ttl, ' s')],
    ['refresh tokens', p.refresh_tokens_allowed ? 'allowed' : 'not allowed'],
    ['secret max age', or(p.secret_max_age_days, ' days')],
  ]);
  if (p.out_of_policy.length === 0) return;
  ctx.print.line();
  ctx.print.line('Clients out of policy:');
  for (const c of p.out_of_policy) for (const r of c.reasons) ctx.print.line(`  ${c.client_id} (${c.name}): ${r.field}: ${r.message}`);
}

function parseGranularity(value: string): string {
  if (value !== 'hour' && value !== 'day') throw new InvalidArgumentError('hour or day expected');
  return value;
}

/** A whole number in [min, max], or `none` (no limit). */
function limit(min: number, max: number) {
  return (value: string): number | 'none' => {
    if (value === 'none') return 'none';
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`a whole number from ${min} to ${max}, or none`);
    return n;
  };
}
