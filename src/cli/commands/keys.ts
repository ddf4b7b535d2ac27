import { InvalidArgumentError, type Command } from 'commander';
import type { SigningAlg } from '../../config.js';
import type { Runtime } from '../../runtime.js';
import { CliError, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { Printer, when } from '../output.js';
import { configFromEnv } from './serve.js';

/** `portcullis keys list|rotate`: signing keys, on the database directly (not over HTTP). */
export function registerKeyCommands(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('Signing keys (works on the database: DATA_DIR or DATABASE_URL).');
  keys
    .command('list')
    .description('List signing keys and their state (next, active, retired, expired).')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(io, async (runtime) => {
        const now = runtime.clock.now();
        const rows = runtime.signingKeys.ring.all().map((k) => ({ kid: k.kid, alg: k.alg, state: runtime.signingKeys.ring.stateOf(k, now), activates_at: k.activatesAt.toISOString() }));
        const print = new Printer(io, opts.json === true);
        print.result(rows, () =>
          print.table(
            rows,
            [
              { header: 'KID', value: (k) => k.kid },
              { header: 'ALG', value: (k) => k.alg },
              { header: 'STATE', value: (k) => k.state },
              { header: 'SIGNS FROM', value: (k) => when(k.activates_at) },
            ],
            'No signing keys.',
          ),
        );
      });
    });
  keys
    .command('rotate')
    .description(
      'Publish a new signing key now; it starts signing after --activate-in seconds (default KEY_ACTIVATION_DELAY, 600), ' +
        'so that APIs caching the JWKS learn it first. The old key stays published until the last token it signed has expired. ' +
        'With the embedded database, stop the server first (the embedded database serves one process); ' +
        'with PostgreSQL, running servers pick the new key up at once.',
    )
    .option('--activate-in <seconds>', 'seconds until the new key signs', parseSeconds)
    .option('--now', 'sign with the new key at once (after a key compromise); verifiers with a cached JWKS refetch on the unknown kid')
    .option('--alg <alg>', 'ES256, RS256 or EdDSA (default SIGNING_ALG)', parseAlg)
    .action(async (opts: { activateIn?: number; now?: boolean; alg?: SigningAlg }) => {
      await withRuntime(io, async (runtime) => {
        const delay = opts.now ? 0 : (opts.activateIn ?? runtime.config.keyActivationDelay);
        const key = await runtime.signingKeys.rotate(delay, opts.alg);
        io.stdout.write(`Published ${key.alg} key ${key.kid}; it signs from ${key.activatesAt.toISOString()}.\n`);
      });
    });
}

async function withRuntime(io: CliIo, work: (runtime: Runtime) => Promise<void>): Promise<void> {
  const [{ Runtime }, { DataDirInUseError }] = await Promise.all([import('../../runtime.js'), import('../../store/connect.js')]);
  const config = await configFromEnv(io.env);
  let runtime: Runtime;
  try {
    runtime = await Runtime.start(config);
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new CliError(err.message, ExitCode.DATABASE_IN_USE);
    throw err;
  }
  try {
    await work(runtime);
  } finally {
    await runtime.close();
  }
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 604800) throw new InvalidArgumentError('whole seconds from 0 to 604800 expected');
  return n;
}

function parseAlg(value: string): SigningAlg {
  if (value === 'ES256' || value === 'RS256' || value === 'EdDSA') return value;
  throw new InvalidArgumentError('ES256, RS256 or EdDSA expected');
}
