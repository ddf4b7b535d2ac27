import { InvalidArgumentError, type Command } from 'commander';
import { action, connectionOptions, seg, type CommandContext, type ConnectionOptions } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { when } from '../output.js';
import type { Member, MemberRole } from '../wire.js';

/** `portcullis members list|add|remove`: the people of an organization (organization admin). */
export function registerMemberCommands(program: Command, io: CliIo): void {
  const members = program.command('members').description("An organization's members: the people who manage its clients (organization admin).");
  const path = async (ctx: CommandContext, userId?: string) => `/organizations/${seg(await ctx.orgId())}/members${userId ? `/${seg(userId)}` : ''}`;

  connectionOptions(members.command('list').description("List the organization's members and invitations."), { org: true }).action(
    action(io, async (ctx) => {
      const list = await ctx.api().listAll<Member>(await path(ctx));
      ctx.print.result(list, () =>
        ctx.print.table(
          list,
          [
            { header: 'USER ID', value: (m) => m.user_id },
            { header: 'EMAIL', value: (m) => m.email },
            { header: 'NAME', value: (m) => m.name || '-' },
            { header: 'ROLE', value: (m) => m.role },
            { header: 'STATUS', value: (m) => m.status },
            { header: 'SINCE', value: (m) => when(m.created_at) },
          ],
          'No members.',
        ),
      );
    }),
  );

  connectionOptions(
    members
      .command('add')
      .description('Invite someone by email. Without SMTP_URL on the server, the invitation link is printed for you to pass on.')
      .requiredOption('--email <email>', 'their email address')
      .option('--role <role>', 'admin or member (default member)', parseRole, 'member' as MemberRole),
    { org: true },
  ).action(
    action<ConnectionOptions & { email: string; role: MemberRole }, []>(io, async (ctx) => {
      const added = await ctx.api().post<Member & { invite_url?: string; invite_sent?: true }>(await path(ctx), { email: ctx.options.email, role: ctx.options.role });
      ctx.print.result(added, () => {
        ctx.print.line(`Added ${added.email} as ${added.role} (${added.status}).`);
        if (added.invite_sent) ctx.print.line('The invitation was mailed to that address.');
        if (added.invite_url) {
          ctx.print.line();
          ctx.print.record([['invite_url', added.invite_url]]);
          ctx.print.note('Pass this link on to them yourself (the server sends no mail without SMTP_URL); it works once.');
        }
      });
    }),
  );

  connectionOptions(members.command('remove').description('Remove a member (or withdraw an invitation).').argument('<member>', 'user id or email'), { org: true }).action(
    action<ConnectionOptions, [string]>(io, async (ctx, ref) => {
      const base = await path(ctx);
      let userId = ref;
      if (ref.includes('@')) {
        const found = (await ctx.api().listAll<Member>(base)).find((m) => m.email.toLowerCase() === ref.toLowerCase());
        if (!found) throw new CliError(`No member has the email ${ref}.`, ExitCode.NOT_FOUND);
        userId = found.user_id;
      }
      await ctx.api().delete(`${base}/${seg(userId)}`);
      ctx.print.result({ removed: userId }, () => ctx.print.line(`Removed ${ref} from the organization.`));
    }),
  );
}

function parseRole(value: string): MemberRole {
  if (value === 'admin' || value === 'member') return value;
  throw new InvalidArgumentError('admin or member expected');
}
