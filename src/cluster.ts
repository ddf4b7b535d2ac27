import cluster from 'node:cluster';
import type { Config } from './config.js';
import { Runtime } from './runtime.js';
import { printSetupBanner } from './setup-banner.js';
import { logDestination, processLogger } from './server.js';

/**
 * `WORKERS` > 1 (PostgreSQL only): the primary process migrates and bootstraps the
 * database once, then forks the workers, which share the listening port (node:cluster)
 * and learn each other's changes through LISTEN/NOTIFY like separate nodes do. A worker
 * that dies is replaced; SIGTERM/SIGINT stop them all gracefully.
 */
export async function runCluster(config: Config): Promise<void> {
  const logger = processLogger(config.logLevel, await logDestination(config.logFormat));
  // Bootstrap once, so workers never race to create the first key or the built-in API.
  const bootstrap = await Runtime.start(config, { logger });
  const setup = await bootstrap.users.setupLink();
  await bootstrap.close();
  if (setup) {
    logger.warn(`No users yet. Create the first platform administrator at ${setup} (valid once, for 24 hours), or set ADMIN_EMAIL and ADMIN_PASSWORD.`);
    printSetupBanner(setup);
  }

  let stopping = false;
  const fork = () => cluster.fork({ PORTCULLIS_WORKER: '1' });
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 1000).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping ${Object.keys(cluster.workers ?? {}).length} workers`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info(`Portcullis primary ${process.pid}: ${config.workers} workers on ${config.host}:${config.port}`);
}
