import type { Command } from 'commander';
import { CredentialsStore } from './credentials-store.js';
import { CliError, ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { ManagementClient, type ManagementAuth } from './management-client.js';
import { Printer } from './output.js';

export const DEFAULT_SERVER = 'http://localhost:8080';

/**
 * The management commands' own client credentials. They are not PORTCULLIS_CLIENT_ID/SECRET:
 * those belong to the application (the SDK, the examples, `portcullis token`), and a shell that
 * runs an application would otherwise make every management command act as that application.
 */
export const CLI_CLIENT_ID = 'PORTCULLIS_CLI_CLIENT_ID';
export const CLI_CLIENT_SECRET = 'PORTCULLIS_CLI_CLIENT_SECRET';

/** The options every management command takes. */
export interface ConnectionOptions {
  server?: string;
  clientId?: string;
  clientSecret?: string;
  json?: boolean;
  org?: string;
}

/** Adds `--server`, `--client-id`, `--client-secret`, `--json` (and `--org`) to a management command. */
export function connectionOptions(command: Command, opts: { org?: boolean } = {}): Command {
  command
    .option('--server <url>', `Portcullis URL (env PORTCULLIS_SERVER; default: the server you last logged in to, else ${DEFAULT_SERVER})`)
    .option('--client-id <id>', `authenticate as this client instead of your login session (env ${CLI_CLIENT_ID})`)
    .option('--client-secret <secret>', `that client's secret; prefer the env ${CLI_CLIENT_SECRET}, which other users cannot see in the process list`)
    .option('--json', 'print JSON, for scripts');
  if (opts.org) command.option('--org <id>', 'organization id (env PORTCULLIS_ORG; default: the only organization you belong to, or the client’s own)');
  return command;
}

/**
 * What a management command works with: its options, where it prints, and a management
 * client for the chosen server and credentials, made on first use.
 */
export class CommandContext<O extends ConnectionOptions = ConnectionOptions> {
  readonly store: CredentialsStore;
  readonly print: Printer;
  private client: ManagementClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly options: O,
  ) {
    this.store = new CredentialsStore(io.env);
    this.print = new Printer(io, options.json === true);
  }

  /** --server, else PORTCULLIS_SERVER, else the last login's server, else localhost:8080. */
  server(): string {
    const raw = this.options.server ?? this.io.env.PORTCULLIS_SERVER ?? this.store.currentServer() ?? DEFAULT_SERVER;
    return normalizeServer(raw);
  }

  /** The management API, authenticated as a client (--client-id or env) or else with the stored session. */
  api(): ManagementClient {
    if (this.client) return this.client;
    const server = this.server();
    const clientId = this.options.clientId ?? this.io.env[CLI_CLIENT_ID];
    let auth: ManagementAuth;
    if (clientId) {
      const clientSecret = this.options.clientSecret ?? this.io.env[CLI_CLIENT_SECRET];
      if (!clientSecret) throw new CliError(`A client secret is needed with client id ${clientId}: set ${CLI_CLIENT_SECRET} (or pass --client-secret).`, ExitCode.USAGE);
      auth = { kind: 'client', clientId, clientSecret };
    } else {
      const session = this.store.session(server);
      if (!session) {
        throw new CliError(`Not logged in to ${server}.`, ExitCode.UNAUTHENTICATED, [
          `Run \`portcullis login --server ${server}\`, or set ${CLI_CLIENT_ID} and ${CLI_CLIENT_SECRET} to act as a client.`,
          ...(this.io.env.PORTCULLIS_CLIENT_ID
            ? [`(PORTCULLIS_CLIENT_ID is set, but it is the application's variable, read by \`portcullis token\` and the SDKs; the management commands read ${CLI_CLIENT_ID}.)`]
            : []),
        ]);
      }
      auth = { kind: 'session', session };
    }
    this.client = new ManagementClient(server, auth, this.io, () => this.store.removeSession(server));
    return this.client;
  }

  /**
   * The organization to act in: --org, else PORTCULLIS_ORG, else the client's own (a client
   * reaches only its own), else the user's only organization.
   */
  async orgId(): Promise<string> {
    const explicit = this.options.org ?? this.io.env.PORTCULLIS_ORG;
    if (explicit) return explicit;
    const api = this.api();
    if (api.auth.kind === 'client') {
      const { orgId } = await api.clientFacts();
      if (orgId) return orgId;
    }
    if (api.auth.kind === 'session') {
      const me = await api.get<{ organizations: { id: string; name: string }[] }>('/me');
      if (me.organizations.length === 1 && me.organizations[0]) return me.organizations[0].id;
      throw new CliError(
        me.organizations.length === 0
          ? 'You belong to no organization: pass --org <id> (`portcullis orgs list` shows them all to a platform administrator).'
          : 'You belong to several organizations: pass --org <id>.',
        ExitCode.USAGE,
        me.organizations.map((o) => `${o.id}  ${o.name}`),
      );
    }
    throw new CliError('Pass --org <id>.', ExitCode.USAGE);
  }
}

export function normalizeServer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`${JSON.stringify(raw)} is not a URL; expected something like ${DEFAULT_SERVER}.`, ExitCode.USAGE);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`${raw}: only http and https servers are supported.`, ExitCode.USAGE);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * A commander action with a context: commander passes the positional arguments, then the
 * options, then the command itself.
 */
export function action<O extends ConnectionOptions, A extends unknown[]>(io: CliIo, run: (ctx: CommandContext<O>, ...args: A) => Promise<void>) {
  return async (...raw: unknown[]): Promise<void> => {
    const command = raw[raw.length - 1] as Command;
    const args = raw.slice(0, -2) as A;
    await run(new CommandContext<O>(io, command.opts<O>()), ...args);
  };
}

/** A path segment, escaped. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
