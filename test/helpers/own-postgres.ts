import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.js';

/**
 * A PostgreSQL server of the test's own, in a temporary folder on a free port, for tests that
 * stop or freeze the database: the shared server at 127.0.0.1:5432 is never touched. Runs the
 * machine's PostgreSQL binaries as the `postgres` user when the tests run as root (PostgreSQL
 * refuses to run as root).
 */
export interface OwnPostgres {
  url: string;
  /** `pg_ctl stop -m immediate`: the server goes away as in a crash. */
  stop(): void;
  start(): void;
  /** SIGSTOP / SIGCONT to the server and all its backends: a frozen database. */
  freeze(): void;
  thaw(): void;
  dispose(): void;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const version = fs.readdirSync(root).sort().at(-1);
  const dir = version ? path.join(root, version, 'bin') : undefined;
  return dir && fs.existsSync(path.join(dir, 'initdb')) ? dir : undefined;
}

/** Why an own PostgreSQL cannot be started here, or undefined when it can. */
export function ownPostgresMissing(): string | undefined {
  if (!binDir()) return 'no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)';
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root without a postgres user to run the server as';
    }
  }
  return undefined;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  if (!bin) throw new Error(ownPostgresMissing());
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const run = (tool: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : path.join(bin, tool), asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args, { stdio: 'pipe', cwd: dir });
  const data = path.join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const start = () => run('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  start();
  const pids = (): number[] => {
    const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
    return [pid, ...children];
  };
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids()) process.kill(pid, sig);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']),
    start,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    dispose: () => {
      try {
        signal('SIGCONT');
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } catch {
        // stopped already
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
