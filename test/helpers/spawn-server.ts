import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * Starts a real `portcullis serve` process from the TypeScript sources (no build). The source
 * condition makes the workspace packages (@portcullis/resource) resolve to their sources too, so
 * this works on a fresh checkout where no package has been built. `env` is added to `base`
 * (this process's environment unless given).
 */
export function spawnServerProcess(env: NodeJS.ProcessEnv, base: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['--conditions=@portcullis/source', '--import', 'tsx', 'test/helpers/server-process.ts'], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A server process that answers: its address, what it printed, and a graceful stop. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed so far (stdout and stderr), for assertion messages. */
  readonly output: string;
  /** SIGTERM, resolved once it has exited (at once if it has). */
  stop(): Promise<void>;
}

/**
 * A server process on `port` (ISSUER defaults to its own address), resolved once its /readyz
 * answers 200; throws with what it printed when it exits first or is not ready in `timeoutMs`.
 */
export async function startServerProcess(port: number, env: NodeJS.ProcessEnv, opts: { base?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawnServerProcess({ PORT: String(port), ISSUER: url, ...env }, opts.base);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const server: ServerProcess = {
    child,
    url,
    get output() {
      return output;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
  const end = performance.now() + (opts.timeoutMs ?? 60_000);
  while ((await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200) {
    if (child.exitCode !== null || performance.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`the server process on ${url} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return server;
}
