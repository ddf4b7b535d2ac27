import { setFlagsFromString } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { Runtime } from './runtime.js';
import { printSetupBanner } from './setup-banner.js';
import { Lifecycle } from './http/lifecycle.js';
import { buildServer, logDestination, processLogger } from './server.js';
import { startTracing, type Tracing } from './telemetry/otel-sdk.js';

export interface RunningServer {
  app: FastifyInstance;
  runtime: Runtime;
  url: string;
  /**
   * Drains for `drainSeconds` (default SHUTDOWN_DRAIN_SECONDS): `/readyz` answers 503 and every
   * answer carries `Connection: close`, while requests are still served; then the port closes,
   * idle connections end, in-flight requests finish, and the runtime closes.
   */
  close(drainSeconds?: number): Promise<void>;
}

/** Starts Portcullis: settings → store and caches → HTTP → listening. */
export async function startServer(config: Config, opts: { quiet?: boolean } = {}): Promise<RunningServer> {
  youngGarbageStaysYoung();
  // One destination for the process's own lines and the requests' (one pino-pretty, when pretty).
  const logStream = await logDestination(config.logFormat);
  const logger = processLogger(config.logLevel, logStream);
  if (config.allowQueryCredentials) {
    logger.warn('ALLOW_QUERY_CREDENTIALS=true: client secrets are accepted in URLs, where proxies and browsers may record them');
  }
  // Before anything makes a span: the SDK's context manager must be in place (and is loaded only when configured).
  const tracing: Tracing | undefined = config.tracesExporter ? await startTracing(config.tracesExporter) : undefined;
  if (tracing) logger.info(`tracing on: spans go to the ${config.tracesExporter} exporter`);
  let runtime: Runtime;
  try {
    runtime = await Runtime.start(config, { logger, tracer: tracing?.tracer });
  } catch (err) {
    await tracing?.shutdown();
    throw err;
  }
  const lifecycle = new Lifecycle();
  let app: FastifyInstance;
  try {
    // Before listening: ready means the token path will not start by reading every client from the database.
    const warmStart = performance.now();
    const warmed = await runtime.clientSnapshots.warm();
    if (warmed > 0) logger.info(`loaded ${warmed} client snapshots into the cache in ${Math.round(performance.now() - warmStart)} ms`);
    app = await buildServer(runtime, { lifecycle, logStream });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await runtime.close();
    await tracing?.shutdown();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info(`Portcullis listening on ${url} (issuer ${config.issuer}, ${runtime.store.kind} database)`);
  // In a cluster the primary prints the setup link once; workers stay quiet about it.
  const setup = opts.quiet ? undefined : await runtime.users.setupLink();
  // The one place a one-time link is printed: it is how the first administrator gets in.
  if (setup) {
    logger.warn(`No users yet. Create the first platform administrator at ${setup} (valid once, for 24 hours), or set ADMIN_EMAIL and ADMIN_PASSWORD.`);
    printSetupBanner(setup);
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    runtime,
    url,
    close: (drainSeconds = config.shutdownDrainSeconds) =>
      (closing ??= (async () => {
        lifecycle.draining = true;
        if (drainSeconds > 0) await new Promise((resolve) => setTimeout(resolve, drainSeconds * 1000));
        await app.close();
        await runtime.close();
        // Last: the spans of the final requests are sent before the process ends.
        await tracing?.shutdown();
      })()),
  };
}

/**
 * Turns off V8's allocation-site pretenuring for this process. V8 allocates the objects of a
 * code site directly in the old generation once it has seen most of them survive a young
 * collection; under load it came to do so for the HTTP objects of every request, which all die
 * within milliseconds. In `npm run bench`, about half the runs fell into that state (what tips a
 * run into it was not pinned down; with the flag off, none did): five to ten times more promoted
 * garbage, young collections of 2 to 4 ms instead of 1, about 100 MB more resident memory, a
 * fifth less throughput. A server of short requests gains nothing from pretenuring; the flag
 * is read by V8 whenever it decides, so setting it at start takes effect (docs/performance.md).
 */
function youngGarbageStaysYoung(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
