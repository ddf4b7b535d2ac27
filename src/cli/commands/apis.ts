import { InvalidArgumentError, type Command } from 'commander';
import { action, connectionOptions, seg, type CommandContext, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import { confirmDestructive } from '../prompts.js';
import { collect, type Api, type Role } from '../wire.js';

/** `portcullis apis list|get|create|update|delete`: the APIs (resource servers) tokens are issued for. */
export function registerApiCommands(program: Command, io: CliIo): void {
  const apis = program.command('apis').description('APIs: the resource servers tokens are for, and their permissions (changes need a platform administrator).');

  connectionOptions(apis.command('list').description('List the registered APIs.')).action(
    action(io, async (ctx) => {
      const list = await ctx.api().listAll<Api>('/apis');
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'ID', value: (a) => a.id },
            { header: 'IDENTIFIER (audience)', value: (a) => a.identifier },
            { header: 'NAME', value: (a) => a.name },
            { header: 'TOKEN TTL', value: (a) => (a.access_token_ttl === null ? 'default' : `${a.access_token_ttl}s`) },
            { header: 'PERMISSIONS', value: (a) => a.permissions.map((p) => p.value).join(' ') },
          ],
          'No APIs.',
        ),
      );
    }),
  );

  connectionOptions(apis.command('get').description('Show one API with its permissions.').argument('<api>', 'API id or identifier (audience)')).action(
    action<ConnectionOptions, [string]>(io, async (ctx, ref) => {
      const a = await resolveApi(ctx, ref);
      ctx.print.result(a, () => {
        ctx.print.record([
          ['id', a.id],
          ['identifier', a.identifier],
          ['name', a.name],
          ['token ttl', a.access_token_ttl === null ? 'server default (ACCESS_TOKEN_TTL)' : `${a.access_token_ttl} seconds`],
          ['built in', a.built_in ? 'yes' : 'no'],
          ['created', when(a.created_at)],
        ]);
        ctx.print.line();
        ctx.print.table(
          a.permissions,
          [
            { header: 'PERMISSION', value: (p) => p.value },
            { header: 'DESCRIPTION', value: (p) => p.description },
          ],
          'No permissions.',
        );
      });
    }),
  );

  connectionOptions(
    apis
      .command('create')
      .description('Register an API (platform administrator).')
      .requiredOption('--identifier <identifier>', "its identifier, the tokens' audience (e.g. https://meters.example.com/)")
      .requiredOption('--name <name>', 'a name for people')
      .option('--permission <value[=description]>', 'a permission it defines, e.g. "meters:read=Read meter readings" (repeatable)', collect, [])
      .option('--ttl <seconds>', "access-token lifetime for this API, 60 to 86400 (default: the server's ACCESS_TOKEN_TTL)", parseTtl),
  ).action(
    action<ConnectionOptions & { identifier: string; name: string; permission: string[]; ttl?: number }, []>(io, async (ctx) => {
      const permissions = ctx.options.permission.map(parsePermission);
      const a = await ctx.api().post<Api>('/apis', {
        identifier: ctx.options.identifier,
        name: ctx.options.name,
        permissions,
        ...(ctx.options.ttl !== undefined ? { access_token_ttl: ctx.options.ttl } : {}),
      });
      ctx.print.result(a, () => ctx.print.line(`Created API ${a.name} (${a.id}) for audience ${a.identifier} with ${a.permissions.length} permission(s).`));
    }),
  );

  connectionOptions(
    apis
      .command('update')
      .description('Change an API (platform administrator): its name, token lifetime or permissions. Its identifier never changes.')
      .argument('<api>', 'API id or identifier')
      .option('--name <name>', 'a new name')
      .option('--ttl <seconds>', 'access-token lifetime for this API, 60 to 86400', parseTtl)
      .option('--default-ttl', "use the server's ACCESS_TOKEN_TTL again")
      .option('--permission <value[=description]>', 'replace the whole list of permissions with these (repeatable)', collect, [])
      .option('--add-permission <value[=description]>', 'add a permission, or change its description (repeatable)', collect, [])
      .option('--remove-permission <value>', 'remove a permission; roles holding it lose it (repeatable)', collect, []),
  ).action(
    action<ConnectionOptions & { name?: string; ttl?: number; defaultTtl?: boolean; permission: string[]; addPermission: string[]; removePermission: string[] }, [string]>(io, async (ctx, ref) => {
      const o = ctx.options;
      if (o.ttl !== undefined && o.defaultTtl) throw new CliError('Pass either --ttl or --default-ttl.', ExitCode.USAGE);
      if (o.permission.length > 0 && (o.addPermission.length > 0 || o.removePermission.length > 0)) {
        throw new CliError('Pass either --permission (the whole list) or --add-permission/--remove-permission.', ExitCode.USAGE);
      }
      const current = await resolveApi(ctx, ref);
      let permissions: { value: string; description: string }[] | undefined;
      if (o.permission.length > 0) permissions = o.permission.map(parsePermission);
      else if (o.addPermission.length > 0 || o.removePermission.length > 0) {
        const unknown = o.removePermission.filter((value) => !current.permissions.some((p) => p.value === value));
        if (unknown.length > 0) throw new CliError(`${current.identifier} has no permission ${unknown.join(', ')}.`, ExitCode.NOT_FOUND);
        const byValue = new Map(current.permissions.filter((p) => !o.removePermission.includes(p.value)).map((p) => [p.value, p] as const));
        for (const p of o.addPermission.map(parsePermission)) byValue.set(p.value, p);
        permissions = [...byValue.values()];
      }
      const patch = {
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.ttl !== undefined ? { access_token_ttl: o.ttl } : {}),
        ...(o.defaultTtl ? { access_token_ttl: null } : {}),
        ...(permissions ? { permissions } : {}),
      };
      if (Object.keys(patch).length === 0) throw new CliError('Nothing to change: pass --name, --ttl, --default-ttl or permissions.', ExitCode.USAGE);
      const a = await ctx.api().patch<Api>(`/apis/${seg(current.id)}`, patch);
      ctx.print.result(a, () => ctx.print.line(`Updated API ${a.name} (${a.id}): ${a.permissions.map((p) => p.value).join(' ') || 'no permissions'}.`));
    }),
  );

  connectionOptions(
    apis
      .command('delete')
      .description('Delete an API (platform administrator). Roles lose their permissions on it; tokens already issued for it stay valid until they expire.')
      .argument('<api>', 'API id or identifier')
      .option('--yes', 'do not ask for confirmation'),
  ).action(
    action<ConnectionOptions & { yes?: boolean }, [string]>(io, async (ctx, ref) => {
      const a = await resolveApi(ctx, ref);
      // The catalog says which roles grant permissions on this API: they keep existing, without them.
      const affected = (await ctx.api().listAll<Role>('/roles')).filter((r) => r.permissions.some((p) => p.api === a.identifier));
      const names = affected.map(
        (r) =>
          `${r.id} (${r.permissions
            .filter((p) => p.api === a.identifier)
            .map((p) => p.value)
            .join(' ')})`,
      );
      if (affected.length > 0) ctx.print.note(`Warning: ${affected.length} role(s) lose their permissions on ${a.identifier}: ${names.join(', ')}.`);
      await confirmDestructive(io, ctx.options.yes, `Delete API ${a.name} (${a.identifier})?`, a.id);
      await ctx.api().delete(`/apis/${seg(a.id)}`);
      ctx.print.result({ deleted: a.id, roles_losing_permissions: affected.map((r) => r.id) }, () => ctx.print.line(`Deleted API ${a.name} (${a.id}).`));
    }),
  );
}

/** An API by id, or by identifier (which, being a URL, is looked up in the list). */
export async function resolveApi(ctx: CommandContext, ref: string): Promise<Api> {
  if (!/[/:]/.test(ref)) return ctx.api().get<Api>(`/apis/${seg(ref)}`);
  const found = (await ctx.api().listAll<Api>('/apis')).find((a) => a.identifier === ref);
  if (!found) throw new CliError(`No API has the identifier ${ref}.`, ExitCode.NOT_FOUND);
  return found;
}

/** `value=description`, or a bare `value`. */
function parsePermission(p: string): { value: string; description: string } {
  const eq = p.indexOf('=');
  return eq < 0 ? { value: p, description: '' } : { value: p.slice(0, eq), description: p.slice(eq + 1) };
}

function parseTtl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 60 || n > 86400) throw new InvalidArgumentError('whole seconds from 60 to 86400 expected');
  return n;
}
