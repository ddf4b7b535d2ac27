import { Command, CommanderError } from 'commander';
import { registerApiCommands } from './commands/apis.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerClientCommands } from './commands/clients.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerLoginCommands } from './commands/login.js';
import { registerMemberCommands } from './commands/members.js';
import { registerOAuthCommands } from './commands/oauth.js';
import { registerOrgCommands } from './commands/orgs.js';
import { registerRoleCommands } from './commands/roles.js';
import { registerServeCommand } from './commands/serve.js';
import { registerUsageCommands } from './commands/usage.js';
import { registerUserCommands } from './commands/users.js';
import { CliError, ExitCode } from './exit-codes.js';
import { processIo, type CliIo } from './io.js';

/** The `portcullis` command (bin/portcullis.js). Exits with the codes of `ExitCode` (docs/cli.md). */
export async function main(argv: string[]): Promise<void> {
  const code = await run(argv, processIo());
  // `serve` keeps running after its action returns; every other command is done here.
  if (code !== ExitCode.OK) process.exit(code);
}

/**
 * Runs one command line (`argv` as in `process.argv`: node, script, arguments) and answers its
 * exit code. Prints only through `io`, never exits the process: tests call this directly.
 */
export async function run(argv: string[], io: CliIo): Promise<ExitCode> {
  try {
    await buildProgram(io).parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    return report(err, io);
  }
}

/** The `portcullis` program with every command, printing through `io` (test/docs checks the documented command lines against it). */
export function buildProgram(io: CliIo): Command {
  const program = new Command()
    .name('portcullis')
    .description(
      'OAuth 2.0 authorization server for organization clients.\n\n' +
        'Server commands (serve, keys) work on the database. Management commands (login, orgs, apis, roles, clients, ' +
        'members, users, audit) talk to a running server over HTTP, as your login session or, with --client-id ' +
        '(env PORTCULLIS_CLI_CLIENT_ID), as a client holding management permissions. token, introspect and revoke ' +
        'act as an application (env PORTCULLIS_CLIENT_ID). Exit codes: 0 ok, 1 error, 2 usage, 3 server unreachable, ' +
        '4 not authenticated, 5 forbidden, 6 not found, 7 conflict, 8 rate limited, 9 embedded database in use.',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');

  registerServeCommand(program);
  registerKeyCommands(program, io);
  registerLoginCommands(program, io);
  registerOrgCommands(program, io);
  registerApiCommands(program, io);
  registerRoleCommands(program, io);
  registerClientCommands(program, io);
  registerUsageCommands(program, io);
  registerMemberCommands(program, io);
  registerUserCommands(program, io);
  registerAuditCommands(program, io);
  registerOAuthCommands(program, io);
  return program;
}

function report(err: unknown, io: CliIo): ExitCode {
  if (err instanceof CommanderError) {
    // Commander has printed its message already; help and --version are successes.
    return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? ExitCode.OK : ExitCode.USAGE;
  }
  if (err instanceof CliError) {
    io.stderr.write(`portcullis: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
    return err.exitCode;
  }
  io.stderr.write(`portcullis: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.ERROR;
}
