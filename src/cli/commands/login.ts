import type { Command } from 'commander';
import { addSeconds, systemClock } from '../../clock.js';
import { SESSION_TTL_SECONDS } from '../../orgs/session-service.js';
import { action, CLI_CLIENT_ID, CLI_CLIENT_SECRET, DEFAULT_SERVER } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { readJson, send, SESSION_COOKIE } from '../management-client.js';
import { ask, askHidden, interactive, readStdin } from '../prompts.js';

interface Me {
  id: string;
  email: string;
  name: string;
  platform_admin: boolean;
  organizations: { id: string; name: string; role: string }[];
}

/** `portcullis login`, `logout` and `whoami`. */
export function registerLoginCommands(program: Command, io: CliIo): void {
  program
    .command('login')
    .description(
      'Sign in to a Portcullis server as a user. The session (not the password) is kept in ' +
        '$XDG_CONFIG_HOME/portcullis/credentials.json (default ~/.config/portcullis/), readable by you only, ' +
        'and later commands use it until it ends (12 hours) or you log out.',
    )
    .option('--server <url>', `Portcullis URL (env PORTCULLIS_SERVER; default: the server you last logged in to, else ${DEFAULT_SERVER})`)
    .option('--email <email>', 'your email (asked for when omitted)')
    .option('--password-stdin', 'read the password from stdin, for scripts (it is asked for, without echo, otherwise)')
    .option('--json', 'print JSON, for scripts')
    .action(
      action<{ server?: string; email?: string; passwordStdin?: boolean; json?: boolean }, []>(io, async (ctx) => {
        const server = ctx.server();
        const email = ctx.options.email ?? (interactive(io) ? await ask(io, 'Email: ') : undefined);
        if (!email) throw new CliError('Pass --email (no terminal to ask on).', ExitCode.USAGE);
        let password: string;
        if (ctx.options.passwordStdin) password = await readStdin(io);
        else if (interactive(io)) password = await askHidden(io, 'Password: ');
        else throw new CliError('No terminal to ask for the password on: pipe it in with --password-stdin.', ExitCode.USAGE);
        if (!password) throw new CliError('The password is empty.', ExitCode.USAGE);

        const url = `${server}/api/v1/session`;
        const response = await send(io, url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ email, password }) });
        const body = (await readJson(response, url)) as { user?: Me; csrf_token?: string; message?: string };
        if (response.status === 401 || response.status === 400) throw new CliError('The email or password is wrong.', ExitCode.UNAUTHENTICATED);
        if (response.status === 429) throw new CliError(`Too many sign-in attempts; retry in ${response.headers.get('retry-after') ?? 'a few'} seconds.`, ExitCode.RATE_LIMITED);
        const cookie = response.headers
          .getSetCookie()
          .map((c) => new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c)?.[1])
          .find(Boolean);
        if (!response.ok || !body.user || !body.csrf_token || !cookie) {
          throw new CliError(`${url} answered ${response.status}${body.message ? `: ${body.message}` : ''}: is ${server} a Portcullis server?`, ExitCode.ERROR);
        }
        const now = systemClock.now();
        ctx.store.saveSession(server, {
          cookie,
          csrf_token: body.csrf_token,
          email: body.user.email,
          user_id: body.user.id,
          platform_admin: body.user.platform_admin,
          created_at: now.toISOString(),
          expires_at: addSeconds(now, SESSION_TTL_SECONDS).toISOString(),
        });
        ctx.print.result({ server, user: body.user, credentials_file: ctx.store.file }, () => {
          ctx.print.line(`Logged in to ${server} as ${body.user?.email}${body.user?.platform_admin ? ' (platform administrator)' : ''}.`);
          ctx.print.note(`Session saved in ${ctx.store.file} (readable by you only).`);
        });
      }),
    );

  program
    .command('logout')
    .description('End the session on the server and forget it locally.')
    .option('--server <url>', 'Portcullis URL (default: the server you last logged in to)')
    .action(
      action<{ server?: string }, []>(io, async (ctx) => {
        const server = ctx.server();
        const session = ctx.store.session(server);
        if (!session) {
          ctx.print.line(`Not logged in to ${server}.`);
          return;
        }
        try {
          await ctx.api().delete('/session');
        } catch (err) {
          // Forget the session locally whatever the server says; an unreachable server only earns a warning.
          if (!(err instanceof CliError) || (err.exitCode !== ExitCode.UNAUTHENTICATED && err.exitCode !== ExitCode.UNREACHABLE)) throw err;
          if (err.exitCode === ExitCode.UNREACHABLE) ctx.print.note(`Warning: ${err.message} The session was forgotten here but may stay open on the server until it expires.`);
        }
        ctx.store.removeSession(server);
        ctx.print.line(`Logged out of ${server}.`);
      }),
    );

  const whoami = program.command('whoami').description('Show who the management commands act as: your session, or the client of --client-id.');
  whoami
    .option('--server <url>', 'Portcullis URL (env PORTCULLIS_SERVER; default: the server you last logged in to)')
    .option('--client-id <id>', `a client instead of your session (env ${CLI_CLIENT_ID})`)
    .option('--client-secret <secret>', `its secret (prefer env ${CLI_CLIENT_SECRET})`)
    .option('--json', 'print JSON, for scripts')
    .action(
      action(io, async (ctx) => {
        const api = ctx.api();
        if (api.auth.kind === 'client') {
          const facts = await api.clientFacts();
          const view = { server: api.server, client_id: facts.clientId, organization_id: facts.orgId ?? null, permissions: facts.scope };
          ctx.print.result(view, () =>
            ctx.print.record([
              ['server', view.server],
              ['client', view.client_id],
              ['organization', view.organization_id ?? '-'],
              ['permissions', view.permissions.join(' ') || '-'],
            ]),
          );
          return;
        }
        const me = await api.get<Me>('/me');
        ctx.print.result({ server: api.server, ...me }, () => {
          ctx.print.record([
            ['server', api.server],
            ['user', `${me.email}${me.name ? ` (${me.name})` : ''}`],
            ['platform admin', me.platform_admin ? 'yes' : 'no'],
            ['organizations', me.organizations.map((o) => `${o.name} [${o.id}, ${o.role}]`).join(', ') || '-'],
          ]);
        });
      }),
    );
}
