import type { Command } from 'commander';
import type { Config } from '../../config.js';
import { CliError, ExitCode } from '../exit-codes.js';

/** `portcullis serve`: settings come from the environment (README, "Configuration"). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the server (embedded database in DATA_DIR, or PostgreSQL at DATABASE_URL; WORKERS processes with PostgreSQL).')
    .action(async () => {
      // Loaded here so that the management commands do not pay for the server's modules at start.
      const [{ startServer }, { runCluster }, { default: cluster }] = await Promise.all([import('../../main.js'), import('../../cluster.js'), import('node:cluster')]);
      const settings = await configFromEnv();
      if (settings.workers > 1 && cluster.isPrimary) return runCluster(settings);
      const server = await startServer(settings, { quiet: cluster.isWorker });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.app.log.info(`${signal}: draining for ${settings.shutdownDrainSeconds} s, then shutting down`);
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
}

/** The server's settings; a bad one is a usage error naming the variable. */
export async function configFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const { ConfigError, loadConfig } = await import('../../config.js');
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, ExitCode.USAGE);
    throw err;
  }
}
