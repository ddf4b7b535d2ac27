import { InvalidArgumentError, type Command } from 'commander';
import { action, connectionOptions, seg, type CommandContext, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import { confirmDestructive } from '../prompts.js';
import { collect, type Client, type RotatedSecret } from '../wire.js';
import { clientLimitFields, withClientLimitOptions, type ClientLimitOptions } from '../client-limits.js';
import { readJwksFile } from '../client-jwks.js';

const SECRET_WARNING =
  'Warning: store this client secret now, somewhere safe (a secret manager). It is shown only this once; ' + 'if it is lost, rotate it (`portcullis clients rotate`) to get a new one.';

/** `portcullis clients list|create|get|update|rotate|delete|roles set|keys set`: an organization's clients. */
export function registerClientCommands(program: Command, io: CliIo): void {
  const clients = program.command('clients').description("An organization's clients: the machine accounts that get tokens with the client credentials grant.");
  const path = async (ctx: CommandContext, clientId?: string) => `/organizations/${seg(await ctx.orgId())}/clients${clientId ? `/${seg(clientId)}` : ''}`;

  connectionOptions(clients.command('list').description("List the organization's clients."), { org: true }).action(
    action(io, async (ctx) => {
      const list = await ctx.api().listAll<Client>(await path(ctx));
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'CLIENT ID', value: (c) => c.client_id },
            { header: 'NAME', value: (c) => c.name },
            { header: 'ROLES', value: (c) => c.roles.map((r) => r.id).join(', ') || '-' },
            { header: 'SECRET', value: (c) => (c.secret_hint === null ? '(keys only)' : `…${c.secret_hint}`) },
            { header: 'REFRESH', value: (c) => (c.refresh_tokens ? 'yes' : 'no') },
            { header: 'LAST USED', value: (c) => when(c.last_used_at) },
          ],
          'No clients.',
        ),
      );
    }),
  );

  connectionOptions(
    withClientLimitOptions(
      clients
        .command('create')
        .description('Create a client (organization admin, or a client with clients:write). Its secret, if it has one, is printed once.')
        .requiredOption('--name <name>', 'a name for people, e.g. the daemon or service that will use it')
        .option('--role <id>', 'a role to give it (repeatable; `portcullis roles list` shows them)', collect, [])
        .option('--refresh-tokens', 'also issue refresh tokens to it')
        .option('--jwks <file>', 'public keys for private_key_jwt: a JWK Set, one public JWK, or a PEM public key')
        .option('--alg <alg>', 'the signing algorithm of a PEM public key in --jwks', 'ES256')
        .option('--no-secret', 'no client secret: it authenticates with private_key_jwt only (needs --jwks)')
        .option('--require-dpop', 'issue it DPoP-bound tokens only (RFC 9449)'),
    ),
    { org: true },
  ).action(
    action<ConnectionOptions & ClientLimitOptions & { name: string; role: string[]; refreshTokens?: boolean; jwks?: string; alg: string; secret: boolean; requireDpop?: boolean }, []>(
      io,
      async (ctx) => {
        const o = ctx.options;
        if (!o.secret && !o.jwks) throw new CliError('A client without a secret needs public keys: pass --jwks FILE with --no-secret.', ExitCode.USAGE);
        const created = await ctx.api().post<Client & { client_secret?: string }>(await path(ctx), {
          name: o.name,
          roles: o.role,
          ...(o.refreshTokens ? { refresh_tokens: true } : {}),
          ...clientLimitFields(o),
          ...(o.jwks ? { jwks: await readJwksFile(o.jwks, o.alg) } : {}),
          ...(o.secret ? {} : { secret: false }),
          ...(o.requireDpop ? { require_dpop: true } : {}),
        });
        ctx.print.result(created, () => {
          ctx.print.line(`Created client ${created.name} in organization ${created.organization_id}; roles: ${created.roles.map((r) => r.id).join(', ') || 'none'}.`);
          ctx.print.line();
          ctx.print.record([
            ['client_id', created.client_id],
            ...(created.client_secret !== undefined ? ([['client_secret', created.client_secret]] as [string, string][]) : []),
            ...(created.jwks.keys.length > 0 ? ([['keys', keyList(created)]] as [string, string][]) : []),
            ...(created.require_dpop ? ([['require_dpop', 'yes']] as [string, string][]) : []),
          ]);
        });
        if (created.client_secret !== undefined) ctx.print.note(SECRET_WARNING);
        else ctx.print.note('This client has no secret: it gets tokens with a JWT signed by one of its private keys (private_key_jwt).');
      },
    ),
  );

  connectionOptions(clients.command('get').description('Show one client (never its secret).').argument('<client_id>'), { org: true }).action(
    action<ConnectionOptions, [string]>(io, async (ctx, clientId) => {
      const c = await ctx.api().get<Client>(await path(ctx, clientId));
      ctx.print.result(c, () => showClient(ctx, c));
    }),
  );

  connectionOptions(
    withClientLimitOptions(
      clients
        .command('update')
        .description('Rename a client, turn its refresh tokens on or off, set its token quota or claims.')
        .argument('<client_id>')
        .option('--name <name>', 'a new name')
        .option('--refresh-tokens', 'issue refresh tokens to it')
        .option('--no-refresh-tokens', 'stop issuing refresh tokens to it')
        .option('--require-dpop', 'issue it DPoP-bound tokens only (RFC 9449)')
        .option('--no-require-dpop', 'also issue it bearer tokens'),
    ),
    { org: true },
  ).action(
    action<ConnectionOptions & ClientLimitOptions & { name?: string; refreshTokens?: boolean; requireDpop?: boolean }, [string]>(io, async (ctx, clientId) => {
      const patch = {
        ...(ctx.options.name !== undefined ? { name: ctx.options.name } : {}),
        ...(ctx.options.refreshTokens !== undefined ? { refresh_tokens: ctx.options.refreshTokens } : {}),
        ...(ctx.options.requireDpop !== undefined ? { require_dpop: ctx.options.requireDpop } : {}),
        ...clientLimitFields(ctx.options),
      };
      if (Object.keys(patch).length === 0)
        throw new CliError('Nothing to change: pass --name, --refresh-tokens, --no-refresh-tokens, --require-dpop, --no-require-dpop, --token-quota, --claim or --claims.', ExitCode.USAGE);
      const c = await ctx.api().patch<Client>(await path(ctx, clientId), patch);
      ctx.print.result(c, () => showClient(ctx, c));
    }),
  );

  connectionOptions(
    clients
      .command('rotate')
      .description('Give a client a new secret, printed once. The old secret stops working at once, or after --grace-period.')
      .argument('<client_id>')
      .option('--grace-period <seconds>', 'keep the old secret valid this long, so the new one can be rolled out first (default 0)', parseGrace),
    { org: true },
  ).action(
    action<ConnectionOptions & { gracePeriod?: number }, [string]>(io, async (ctx, clientId) => {
      const rotated = await ctx.api().post<RotatedSecret>(`${await path(ctx, clientId)}/secret/rotate`, { grace_period_seconds: ctx.options.gracePeriod ?? 0 });
      ctx.print.result({ client_id: clientId, ...rotated }, () => {
        ctx.print.line(
          rotated.previous_secret_expires_at
            ? `Rotated the secret of ${clientId}; the previous secret keeps working until ${when(rotated.previous_secret_expires_at)}.`
            : `Rotated the secret of ${clientId}; the previous secret no longer works.`,
        );
        ctx.print.line();
        ctx.print.record([
          ['client_id', clientId],
          ['client_secret', rotated.client_secret],
        ]);
      });
      ctx.print.note(SECRET_WARNING);
    }),
  );

  connectionOptions(clients.command('delete').description('Delete a client: its secrets and tokens stop working at once.').argument('<client_id>').option('--yes', 'do not ask for confirmation'), {
    org: true,
  }).action(
    action<ConnectionOptions & { yes?: boolean }, [string]>(io, async (ctx, clientId) => {
      await confirmDestructive(io, ctx.options.yes, `Delete client ${clientId}? Every application using it loses access at once.`, clientId);
      await ctx.api().delete(await path(ctx, clientId));
      ctx.print.result({ deleted: clientId }, () => ctx.print.line(`Deleted client ${clientId}.`));
    }),
  );

  const roles = clients.command('roles').description("A client's roles.");
  connectionOptions(
    roles
      .command('set')
      .description("Replace a client's roles (its next token carries the new permissions).")
      .argument('<client_id>')
      .argument('[roles...]', 'role ids')
      .option('--none', 'remove every role'),
    { org: true },
  ).action(
    action<ConnectionOptions & { none?: boolean }, [string, string[]]>(io, async (ctx, clientId, roleIds) => {
      if (roleIds.length === 0 && !ctx.options.none) throw new CliError('Name the roles, or pass --none to remove them all.', ExitCode.USAGE);
      if (roleIds.length > 0 && ctx.options.none) throw new CliError('Pass either role ids or --none.', ExitCode.USAGE);
      const c = await ctx.api().put<Client>(`${await path(ctx, clientId)}/roles`, { roles: roleIds });
      ctx.print.result(c, () => ctx.print.line(`Client ${c.client_id} now has the roles: ${c.roles.map((r) => r.id).join(', ') || 'none'}.`));
    }),
  );

  const keys = clients.command('keys').description("A client's public keys for private_key_jwt.");
  connectionOptions(
    keys
      .command('set')
      .description("Replace a client's public keys (a key no longer listed stops working at once).")
      .argument('<client_id>')
      .option('--jwks <file>', 'the new keys: a JWK Set, one public JWK, or a PEM public key')
      .option('--alg <alg>', 'the signing algorithm of a PEM public key in --jwks', 'ES256')
      .option('--none', 'remove every key (refused for a client without a secret)'),
    { org: true },
  ).action(
    action<ConnectionOptions & { jwks?: string; alg: string; none?: boolean }, [string]>(io, async (ctx, clientId) => {
      if (!ctx.options.jwks && !ctx.options.none) throw new CliError('Pass --jwks FILE, or --none to remove the keys.', ExitCode.USAGE);
      if (ctx.options.jwks && ctx.options.none) throw new CliError('Pass either --jwks or --none.', ExitCode.USAGE);
      const body = ctx.options.jwks ? await readJwksFile(ctx.options.jwks, ctx.options.alg) : { keys: [] };
      const c = await ctx.api().put<Client>(`${await path(ctx, clientId)}/jwks`, body);
      ctx.print.result(c, () => ctx.print.line(c.jwks.keys.length > 0 ? `Client ${c.client_id} now has the keys: ${keyList(c)}.` : `Client ${c.client_id} now has no keys.`));
    }),
  );
}

/** Each key as `kid (alg or kty)`: the kid is the RFC 7638 thumbprint when none was registered. */
function keyList(c: Client): string {
  return c.jwks.keys.map((k) => `${k.kid} (${k.alg ?? k.kty})`).join(', ') || 'none';
}

function showClient(ctx: CommandContext, c: Client): void {
  ctx.print.record([
    ['client_id', c.client_id],
    ['name', c.name],
    ['organization', c.organization_id],
    ['roles', c.roles.map((r) => `${r.id} (${r.name})`).join(', ') || 'none'],
    ['secret', c.secret_hint === null ? '(none: keys only)' : `…${c.secret_hint}`],
    ['keys', keyList(c)],
    ['require dpop', c.require_dpop ? 'yes' : 'no'],
    ['refresh tokens', c.refresh_tokens ? 'yes' : 'no'],
    ['token quota', c.token_quota ? `${c.token_quota.limit}/${c.token_quota.per}` : 'none'],
    ['token claims', Object.keys(c.token_claims).length > 0 ? JSON.stringify(c.token_claims) : 'none'],
    ['created', when(c.created_at)],
    ['updated', when(c.updated_at)],
    ['last used', when(c.last_used_at)],
  ]);
}

function parseGrace(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 30 * 86400) throw new InvalidArgumentError('whole seconds from 0 to 2592000 (30 days) expected');
  return n;
}
