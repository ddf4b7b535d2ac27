import type { Command } from 'commander';
import { action, DEFAULT_SERVER, type CommandContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { basicAuthorization, readJson, send } from '../management-client.js';
import { when } from '../output.js';
import { readStdin } from '../prompts.js';

/**
 * The application's credentials: the variables the SDKs and the examples read. `token`,
 * `introspect` and `revoke` act as the application, so they read them too (the management
 * commands have their own, PORTCULLIS_CLI_CLIENT_ID/SECRET).
 */
const APP_CLIENT_ID = 'PORTCULLIS_CLIENT_ID';
const APP_CLIENT_SECRET = 'PORTCULLIS_CLIENT_SECRET';

interface ClientOptions {
  server?: string;
  clientId?: string;
  clientSecret?: string;
  json?: boolean;
}

/** `portcullis token|introspect|revoke`: the OAuth endpoints, as a client (RFC 6749 §4.4, RFC 7662, RFC 7009). */
export function registerOAuthCommands(program: Command, io: CliIo): void {
  clientOptions(
    program
      .command('token')
      .description('Get an access token with the client credentials grant, as the application would, and print it (--json: the whole answer).')
      .requiredOption('--audience <identifier>', 'the API the token is for (its identifier)')
      .option('--scope <permissions>', 'space-separated permissions, a subset of what the client holds on that API (default: all of them)'),
  ).action(
    action<ClientOptions & { audience: string; scope?: string }, []>(io, async (ctx) => {
      const answer = await oauthPost(ctx, '/oauth/token', { grant_type: 'client_credentials', audience: ctx.options.audience, ...(ctx.options.scope ? { scope: ctx.options.scope } : {}) });
      if (typeof answer.access_token !== 'string') throw new CliError(`${ctx.server()}/oauth/token answered without an access_token: is it a Portcullis server?`, ExitCode.ERROR);
      const token = answer.access_token;
      ctx.print.result(answer, () => ctx.print.line(token));
    }),
  );

  clientOptions(
    program
      .command('introspect')
      .description('Ask the server whether a token is active, and what it says (RFC 7662). Authenticates as a client of the same organization.')
      .argument('<token>', 'the token; "-" reads it from stdin (a token on the command line is visible in the process list)')
      .option('--hint <type>', 'access_token or refresh_token'),
  ).action(
    action<ClientOptions & { hint?: string }, [string]>(io, async (ctx, raw) => {
      const answer = await oauthPost(ctx, '/oauth/introspect', { token: await tokenArgument(io, raw), ...(ctx.options.hint ? { token_type_hint: ctx.options.hint } : {}) });
      ctx.print.result(answer, () => {
        if (answer.active !== true) {
          ctx.print.line('active: false (unknown, expired, revoked, or not of your organization)');
          return;
        }
        ctx.print.record(
          Object.entries(answer).map(([name, value]) => [name, (name === 'exp' || name === 'iat') && typeof value === 'number' ? when(new Date(value * 1000).toISOString()) : text(value)] as const),
        );
      });
    }),
  );

  clientOptions(
    program
      .command('revoke')
      .description('Revoke an access or refresh token (RFC 7009). Authenticates as the client the token was issued to.')
      .argument('<token>', 'the token; "-" reads it from stdin')
      .option('--hint <type>', 'access_token or refresh_token'),
  ).action(
    action<ClientOptions & { hint?: string }, [string]>(io, async (ctx, raw) => {
      await oauthPost(ctx, '/oauth/revoke', { token: await tokenArgument(io, raw), ...(ctx.options.hint ? { token_type_hint: ctx.options.hint } : {}) });
      // RFC 7009 §2.2: the answer is 200 whether or not the token was valid, so that is all there is to say.
      ctx.print.result({ revoked: true }, () => ctx.print.line('Revoked (if it was a valid token of this client).'));
    }),
  );
}

function clientOptions(command: Command): Command {
  return command
    .option('--server <url>', `Portcullis URL (env PORTCULLIS_SERVER; default: the server you last logged in to, else ${DEFAULT_SERVER})`)
    .option('--client-id <id>', `the client (env ${APP_CLIENT_ID}, as the SDKs read it)`)
    .option('--client-secret <secret>', `its secret; prefer the env ${APP_CLIENT_SECRET}, which other users cannot see in the process list`)
    .option('--json', "print the server's whole JSON answer");
}

async function tokenArgument(io: CliIo, raw: string): Promise<string> {
  const token = raw === '-' ? (await readStdin(io)).trim() : raw;
  if (!token) throw new CliError('The token is empty.', ExitCode.USAGE);
  return token;
}

/** A form POST to an OAuth endpoint with client_secret_basic; OAuth errors (RFC 6749 §5.2) become exit codes. */
async function oauthPost(ctx: CommandContext<ClientOptions>, path: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const clientId = ctx.options.clientId ?? ctx.io.env[APP_CLIENT_ID];
  const clientSecret = ctx.options.clientSecret ?? ctx.io.env[APP_CLIENT_SECRET];
  if (!clientId || !clientSecret) throw new CliError(`Name the client: set ${APP_CLIENT_ID} and ${APP_CLIENT_SECRET} (or pass --client-id and --client-secret).`, ExitCode.USAGE);
  const url = `${ctx.server()}${path}`;
  const response = await send(ctx.io, url, {
    method: 'POST',
    headers: { authorization: basicAuthorization(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
  const json = await readJson(response, url);
  const body = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  if (response.ok) return body;
  const code = typeof body.error === 'string' ? body.error : undefined;
  if (!code) throw new CliError(`${url} answered ${response.status} without an OAuth error: is ${ctx.server()} a Portcullis server?`, ExitCode.ERROR);
  const message = `${code}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}`;
  if (response.status === 401 || code === 'invalid_client') throw new CliError(`The server rejected the client credentials of ${clientId} (${message}).`, ExitCode.UNAUTHENTICATED);
  if (response.status === 429) throw new CliError(`Too many requests (${code}); retry in ${response.headers.get('retry-after') ?? 'a few'} seconds.`, ExitCode.RATE_LIMITED);
  // invalid_target, invalid_scope: authenticated, but the client may not have that.
  if (code === 'invalid_target' || code === 'invalid_scope' || code === 'unauthorized_client') throw new CliError(`Refused: ${message}`, ExitCode.FORBIDDEN);
  if (response.status >= 500) throw new CliError(`The server failed (${response.status} ${message}).`, ExitCode.ERROR);
  throw new CliError(`The server rejected the request: ${message}`, ExitCode.USAGE);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
