import { type ChildProcess, spawn } from 'node:child_process';

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
