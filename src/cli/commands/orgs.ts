import type { Command } from 'commander';
import { action, connectionOptions, seg, type ConnectionOptions } from '../context.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import { confirmDestructive } from '../prompts.js';
import type { Organization } from '../wire.js';

/** `portcullis orgs list|get|create|delete`. */
export function registerOrgCommands(program: Command, io: CliIo): void {
  const orgs = program.command('orgs').description('Organizations (listing all of them, creating and deleting need a platform administrator).');

  connectionOptions(orgs.command('list').description('List organizations: all of them for a platform administrator, your own otherwise.')).action(
    action(io, async (ctx) => {
      const list = await ctx.api().listAll<Organization>('/organizations');
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'ID', value: (o) => o.id },
            { header: 'NAME', value: (o) => o.name },
            { header: 'CREATED', value: (o) => when(o.created_at) },
          ],
          'No organizations.',
        ),
      );
    }),
  );

  connectionOptions(orgs.command('get').description('Show one organization.').argument('<org>', 'organization id')).action(
    action<ConnectionOptions, [string]>(io, async (ctx, org) => {
      const o = await ctx.api().get<Organization>(`/organizations/${seg(org)}`);
      ctx.print.result(o, () =>
        ctx.print.record([
          ['id', o.id],
          ['name', o.name],
          ['created', when(o.created_at)],
          ['updated', when(o.updated_at)],
        ]),
      );
    }),
  );

  connectionOptions(orgs.command('create').description('Create an organization (platform administrator).').requiredOption('--name <name>', 'its name')).action(
    action<ConnectionOptions & { name: string }, []>(io, async (ctx) => {
      const o = await ctx.api().post<Organization>('/organizations', { name: ctx.options.name });
      ctx.print.result(o, () => ctx.print.line(`Created organization ${o.name} (${o.id}).`));
    }),
  );

  connectionOptions(
    orgs
      .command('delete')
      .description('Delete an organization with its members and clients (platform administrator). Its clients lose access at once.')
      .argument('<org>', 'organization id')
      .option('--yes', 'do not ask for confirmation'),
  ).action(
    action<ConnectionOptions & { yes?: boolean }, [string]>(io, async (ctx, org) => {
      await confirmDestructive(io, ctx.options.yes, `Delete organization ${org}, its members and all its clients?`, org);
      await ctx.api().delete(`/organizations/${seg(org)}`);
      ctx.print.result({ deleted: org }, () => ctx.print.line(`Deleted organization ${org}.`));
    }),
  );
}
