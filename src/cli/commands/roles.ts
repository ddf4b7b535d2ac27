import fs from 'node:fs';
import type { Command } from 'commander';
import { action, connectionOptions, seg, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import { confirmDestructive, readStdin } from '../prompts.js';
import { collect, type Role } from '../wire.js';

/** `portcullis roles list|get|create|update|delete`: named bundles of permissions that organizations give their clients. */
export function registerRoleCommands(program: Command, io: CliIo): void {
  const roles = program.command('roles').description('Roles: named bundles of permissions across APIs, which organizations give their clients (changes need a platform administrator).');

  connectionOptions(roles.command('list').description('List roles; with --org, the roles that organization may assign.'), { org: true }).action(
    action(io, async (ctx) => {
      const path = ctx.options.org ? `/organizations/${seg(ctx.options.org)}/roles` : '/roles';
      const list = await ctx.api().listAll<Role>(path);
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'ID', value: (r) => r.id },
            { header: 'NAME', value: (r) => r.name },
            { header: 'PERMISSIONS', value: (r) => describePermissions(r) },
          ],
          'No roles.',
        ),
      );
    }),
  );

  connectionOptions(roles.command('get').description('Show one role.').argument('<role>', 'role id')).action(
    action<ConnectionOptions, [string]>(io, async (ctx, id) => {
      const r = await ctx.api().get<Role>(`/roles/${seg(id)}`);
      ctx.print.result(r, () => {
        ctx.print.record([
          ['id', r.id],
          ['name', r.name],
          ['description', r.description || '-'],
          ['created', when(r.created_at)],
        ]);
        ctx.print.line();
        ctx.print.table(
          r.permissions,
          [
            { header: 'API', value: (p) => p.api },
            { header: 'PERMISSION', value: (p) => p.value },
          ],
          'No permissions.',
        );
      });
    }),
  );

  connectionOptions(
    roles
      .command('create')
      .description('Create a role (platform administrator): permissions on one API with --api and --permission, or any role from a JSON file with --file.')
      .option('--name <name>', 'a name for people')
      .option('--id <slug>', 'its id (default: derived from the name)')
      .option('--description <text>', 'what it is for')
      .option('--api <identifier>', 'the API the --permission values belong to')
      .option('--permission <value>', 'a permission of that API (repeatable)', collect, [])
      .option('--file <path>', 'the whole role as JSON ({"name", "description", "permissions": [{"api", "value"}]}); "-" reads stdin'),
  ).action(
    action<ConnectionOptions & { name?: string; id?: string; description?: string; api?: string; permission: string[]; file?: string }, []>(io, async (ctx) => {
      const o = ctx.options;
      let body: unknown;
      if (o.file) {
        if (o.name || o.api || o.permission.length > 0) throw new CliError('Use either --file or --name/--api/--permission, not both.', ExitCode.USAGE);
        body = parseJsonObject(o.file === '-' ? await readStdin(io) : readFile(o.file), o.file);
      } else {
        if (!o.name) throw new CliError('Pass --name (or --file).', ExitCode.USAGE);
        if (o.permission.length > 0 && !o.api) throw new CliError('Pass --api <identifier>: the API the permissions belong to.', ExitCode.USAGE);
        body = {
          name: o.name,
          ...(o.id ? { id: o.id } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
          permissions: o.permission.map((value) => ({ api: o.api, value })),
        };
      }
      const r = await ctx.api().post<Role>('/roles', body);
      ctx.print.result(r, () => ctx.print.line(`Created role ${r.name} (${r.id}): ${describePermissions(r) || 'no permissions'}.`));
    }),
  );

  connectionOptions(
    roles
      .command('update')
      .description(
        'Change a role (platform administrator). --api with --permission replaces its permissions on that API (none: remove them all), keeping those on other APIs; --file sends any change as JSON.',
      )
      .argument('<role>', 'role id')
      .option('--name <name>', 'a new name')
      .option('--description <text>', 'a new description')
      .option('--api <identifier>', 'the API whose permissions --permission replaces')
      .option('--permission <value>', 'a permission of that API (repeatable)', collect, [])
      .option('--file <path>', 'the change as JSON ({"name"?, "description"?, "permissions"?: [{"api", "value"}]}); "-" reads stdin'),
  ).action(
    action<ConnectionOptions & { name?: string; description?: string; api?: string; permission: string[]; file?: string }, [string]>(io, async (ctx, id) => {
      const o = ctx.options;
      let patch: Record<string, unknown>;
      if (o.file) {
        if (o.name !== undefined || o.description !== undefined || o.api || o.permission.length > 0) throw new CliError('Use either --file or the other options, not both.', ExitCode.USAGE);
        patch = parseJsonObject(o.file === '-' ? await readStdin(io) : readFile(o.file), o.file);
      } else {
        if (o.permission.length > 0 && !o.api) throw new CliError('Pass --api <identifier>: the API the permissions belong to.', ExitCode.USAGE);
        patch = { ...(o.name !== undefined ? { name: o.name } : {}), ...(o.description !== undefined ? { description: o.description } : {}) };
        if (o.api) {
          const current = await ctx.api().get<Role>(`/roles/${seg(id)}`);
          patch.permissions = [...current.permissions.filter((p) => p.api !== o.api), ...o.permission.map((value) => ({ api: o.api, value }))];
        }
      }
      if (Object.keys(patch).length === 0) throw new CliError('Nothing to change: pass --name, --description, --api with --permission, or --file.', ExitCode.USAGE);
      const r = await ctx.api().patch<Role>(`/roles/${seg(id)}`, patch);
      ctx.print.result(r, () => ctx.print.line(`Updated role ${r.name} (${r.id}): ${describePermissions(r) || 'no permissions'}.`));
    }),
  );

  connectionOptions(roles.command('delete').description('Delete a role (platform administrator).').argument('<role>', 'role id').option('--yes', 'do not ask for confirmation')).action(
    action<ConnectionOptions & { yes?: boolean }, [string]>(io, async (ctx, id) => {
      await confirmDestructive(io, ctx.options.yes, `Delete role ${id}? Clients holding it lose its permissions.`, id);
      await ctx.api().delete(`/roles/${seg(id)}`);
      ctx.print.result({ deleted: id }, () => ctx.print.line(`Deleted role ${id}.`));
    }),
  );
}

/** `meters:read meters:write on https://meters.example.com/; …` */
export function describePermissions(role: Pick<Role, 'permissions'>): string {
  const byApi = new Map<string, string[]>();
  for (const p of role.permissions) byApi.set(p.api, [...(byApi.get(p.api) ?? []), p.value]);
  return [...byApi].map(([api, values]) => `${values.join(' ')} on ${api}`).join('; ');
}

function parseJsonObject(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(`${source} is not valid JSON.`, ExitCode.USAGE);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${source} must hold a JSON object.`, ExitCode.USAGE);
  return value as Record<string, unknown>;
}

function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`, ExitCode.USAGE);
  }
}
