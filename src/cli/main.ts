import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type SigningAlg } from '../config.js';
import { runCluster } from '../cluster.js';
import cluster from 'node:cluster';
import { startServer } from '../main.js';
import { Runtime } from '../runtime.js';

/** The `portcullis` command. Settings come from the environment (see README, "Configuration"). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('portcullis')
    .description('OAuth 2.0 authorization server for organization clients.')
    .showHelpAfterError();

  program
    .command('serve')
    .description('Run the server (embedded database in DATA_DIR, or PostgreSQL at DATABASE_URL; WORKERS processes with PostgreSQL).')
    .action(async () => {
      const settings = config();
      if (settings.workers > 1 && cluster.isPrimary) return runCluster(settings);
      const server = await startServer(settings, { quiet: cluster.isWorker });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.app.log.info(`${signal}: shutting down`);
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });

  const keys = program.command('keys').description('Signing keys.');
  keys
    .command('list')
    .description('List signing keys and their state (next, active, retired, expired).')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (runtime) => {
        const now = runtime.clock.now();
        const rows = runtime.keys.all().map((k) => ({ kid: k.kid, alg: k.alg, state: runtime.keys.stateOf(k, now), activates_at: k.activatesAt.toISOString() }));
        if (opts.json) console.log(JSON.stringify(rows, null, 2));
        else console.table(rows);
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
      await withRuntime(async (runtime) => {
        const delay = opts.now ? 0 : (opts.activateIn ?? runtime.config.keyActivationDelay);
        const key = await runtime.rotateSigningKey(delay, opts.alg);
        console.log(`Published ${key.alg} key ${key.kid}; it signs from ${key.activatesAt.toISOString()}.`);
      });
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    console.error(`portcullis: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

function config() {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

async function withRuntime(work: (runtime: Runtime) => Promise<void>): Promise<void> {
  const runtime = await Runtime.start(config());
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
