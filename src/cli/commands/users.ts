import type { Command } from 'commander';
import { action, connectionOptions, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import { readStdin } from '../prompts.js';
import type { User } from '../wire.js';

/** `portcullis users list|create`: every account on the platform (platform administrator). */
export function registerUserCommands(program: Command, io: CliIo): void {
  const users = program.command('users').description('User accounts of the whole platform (platform administrator).');

  connectionOptions(users.command('list').description('List every user.')).action(
    action(io, async (ctx) => {
      const list = await ctx.api().listAll<User>('/users');
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'ID', value: (u) => u.id },
            { header: 'EMAIL', value: (u) => u.email },
            { header: 'NAME', value: (u) => u.name || '-' },
            { header: 'PLATFORM ADMIN', value: (u) => (u.platform_admin ? 'yes' : 'no') },
            { header: 'PASSWORD', value: (u) => (u.has_password ? 'set' : 'not yet') },
            { header: 'CREATED', value: (u) => when(u.created_at) },
          ],
          'No users.',
        ),
      );
    }),
  );

  connectionOptions(
    users
      .command('create')
      .description('Create a user. Without --password-stdin the answer carries a one-time link where they choose their password (or it is mailed, with SMTP_URL).')
      .requiredOption('--email <email>', 'their email address')
      .option('--name <name>', 'their name')
      .option('--platform-admin', 'make them a platform administrator')
      .option('--password-stdin', 'read their password from stdin'),
  ).action(
    action<ConnectionOptions & { email: string; name?: string; platformAdmin?: boolean; passwordStdin?: boolean }, []>(io, async (ctx) => {
      const o = ctx.options;
      const password = o.passwordStdin ? (await readStdin(io)).replace(/\r?\n$/, '') : undefined;
      if (password === '') throw new CliError('The password is empty.', ExitCode.USAGE);
      const created = await ctx.api().post<User & { invite_url?: string; invite_sent?: true }>('/users', {
        email: o.email,
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(o.platformAdmin ? { platform_admin: true } : {}),
      });
      ctx.print.result(created, () => {
        ctx.print.line(`Created user ${created.email} (${created.id})${created.platform_admin ? ', a platform administrator' : ''}.`);
        if (created.invite_sent) ctx.print.line('The link to choose a password was mailed to that address.');
        if (created.invite_url) {
          ctx.print.line();
          ctx.print.record([['invite_url', created.invite_url]]);
          ctx.print.note('Pass this link on to them yourself; it works once.');
        }
      });
    }),
  );
}
