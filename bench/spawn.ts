import { appendFileSync } from 'node:fs';
// Starting the servers under test as child processes, and the parent's side of their protocol
// (child-protocol.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BenchClient, ChildMessage, PortcullisProvisioning, ProvisionedMessage, ReadyMessage, StaticProvisioning } from './child-protocol.js';
import { trackChild, trackTempDir } from './cleanup.js';
import { AUDIENCE, RATE_LIMIT, ROOT } from './constants.js';
import type { Options } from './options.js';
import { DIST_DIR } from './provision.js';
import type { ServerSpec } from './servers.js';

/** What the bench knows of a started server. */
export interface ServerInfo {
  url: string;
  /** With --nodes: every node's URL (the first is `url`), loaded round-robin. */
  urls: string[];
  /** With --nodes: the processes of the nodes after the first (and their workers). */
  nodePids: number[];
  issuer: string;
  audience: string;
  database: string;
  databaseName?: string | undefined;
  workerPids?: number[] | undefined;
  rssAtReadyMb?: number | undefined;
  clients: BenchClient[];
  provisioning: PortcullisProvisioning | StaticProvisioning | undefined;
  /** Portcullis only: the organization and its client-reader client, for the listing. */
  orgId?: string;
  lister?: BenchClient;
}

export interface ServerUnderTest {
  child: ChildProcess;
  info: ServerInfo;
  stop(): Promise<void>;
}

interface Spawned<M> {
  child: ChildProcess;
  msg: M;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Forks `script` and waits for the IPC message of type `expect`. The child's output is kept
 * (the last 20 kB) to explain a failure. Children are killed when this process exits.
 */
async function spawnChild<T extends 'ready' | 'provisioned'>(
  server: ServerSpec,
  script: string,
  env: NodeJS.ProcessEnv,
  expect: T,
  timeoutMs: number,
): Promise<Spawned<Extract<ChildMessage, { type: T }>>> {
  const child = fork(script, [], {
    cwd: ROOT,
    // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers under load
    execArgv: process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : [],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const untrack = trackChild(child);
  let output = '';
  const childOutput = process.env.BENCH_CHILD_OUTPUT;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    // e.g. BENCH_CHILD_OUTPUT=/tmp/child with BENCH_NODE_ARGS=--trace-gc: each server's whole output in /tmp/child.<pid>
    if (childOutput) appendFileSync(`${childOutput}.${child.pid}`, chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      untrack();
      resolve({ code, signal });
    }),
  );
  const msg = await new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${server.name} did not report "${expect}" within ${timeoutMs / 1000} s\n${output}`)), timeoutMs);
    child.on('message', (m: ChildMessage | undefined) => {
      if (m?.type === expect) {
        clearTimeout(timer);
        resolve(m as Extract<ChildMessage, { type: T }>);
      } else if (m?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${server.name} failed: ${m.message}\n${output}`));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${server.name} exited (${signal ?? code}) before "${expect}"\n${output}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) child.send({ type: 'stop' });
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { child, msg, exited, stop };
}

/**
 * Starts a server for the measurement from the JavaScript copies in `childDir` (child-build.ts).
 * Portcullis is provisioned by one process and served by a second one on the same database
 * (see bench/portcullis-server.ts for why); oidc-provider's clients are static configuration.
 */
export async function startServerUnderTest(server: ServerSpec, opts: Options, childDir: string): Promise<ServerUnderTest> {
  const script = path.join(childDir, `${server.entry}.js`);
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${server.key}-bench-`));
  const removeDataDir = trackTempDir(dataDir);
  const env = {
    BENCH_PORT: String(port),
    BENCH_DATA_DIR: dataDir,
    BENCH_ALG: opts.alg,
    BENCH_CLIENTS: String(opts.clients),
    BENCH_AUDIENCE: AUDIENCE,
    BENCH_RATE_LIMIT: String(RATE_LIMIT),
    BENCH_WORKERS: String(opts.workers),
    BENCH_DIST_DIR: DIST_DIR,
    MASTER_KEY: randomBytes(32).toString('base64'),
    ...server.env,
  };
  const timeoutMs = 120_000 + opts.clients * 2; // provisioning 100,000 clients takes a while
  let info: ServerInfo;
  let serving: Spawned<ReadyMessage> | undefined;
  const extraNodes: Spawned<ReadyMessage>[] = [];
  try {
    if (server.entry === 'portcullis-server') {
      const provisioned: Spawned<ProvisionedMessage> = await spawnChild(server, script, { ...env, BENCH_PHASE: 'provision' }, 'provisioned', timeoutMs);
      await provisioned.exited;
      const serveEnv = { ...env, BENCH_PHASE: 'serve', BENCH_DATABASE: provisioned.msg.database ?? '' };
      serving = await spawnChild(server, script, serveEnv, 'ready', 120_000);
      const { clients, provisioning, orgId, lister } = provisioned.msg;
      const { type: _type, ...ready } = serving.msg;
      // --nodes: more servers on the same database, each on its port, all with the first one's ISSUER (as behind one name).
      for (let i = 1; i < opts.nodes; i++) {
        const node = await spawnChild(server, script, { ...serveEnv, BENCH_PORT: String(await freePort()), BENCH_ISSUER: ready.issuer, BENCH_KEEP_DATABASE: '1' }, 'ready', 120_000);
        extraNodes.push(node);
      }
      info = {
        ...ready,
        urls: [ready.url, ...extraNodes.map((n) => n.msg.url)],
        nodePids: extraNodes.flatMap((n) => [n.child.pid ?? NaN, ...(n.msg.workerPids ?? [])]),
        clients,
        provisioning,
        orgId,
        lister,
      };
    } else {
      serving = await spawnChild(server, script, env, 'ready', timeoutMs);
      const { type: _type, clients = [], ...ready } = serving.msg;
      info = { ...ready, urls: [ready.url], nodePids: [], clients, provisioning: ready.provisioning };
    }
  } catch (err) {
    for (const node of extraNodes) await node.stop();
    await serving?.stop();
    removeDataDir();
    throw err;
  }
  for (const u of [...info.urls, info.issuer]) {
    if (new URL(u).hostname !== '127.0.0.1') throw new Error(`${server.name}: expected a loopback URL, got ${u}`);
  }
  const running = serving;
  const stop = async () => {
    // The first node drops the throwaway database: the others stop before it.
    for (const node of extraNodes) await node.stop();
    await running.stop();
    removeDataDir();
  };
  return { child: running.child, info, stop };
}
