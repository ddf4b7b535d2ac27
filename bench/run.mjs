// `npm run bench`: token issuance (POST /oauth/token, client credentials, client_secret_basic)
// of Portcullis and of node-oidc-provider, side by side in one run, on loopback.
// See docs/performance.md for the method and what the figures mean.
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const ALGS = ['ES256', 'RS256', 'EdDSA'];
const AUDIENCE = 'https://meters.bench.example/';
const SCOPE = 'meters:read meters:write';
/** TOKEN_RATE_LIMIT for the run: the product's default (6000/min per client) would throttle a few clients hammering. */
const RATE_LIMIT = 100_000_000;
/** Up to this many clients are used round-robin; above it, a client is drawn at random per request. */
const ROUND_ROBIN_MAX = 1000;
/** Listing: pages fetched at least (whole passes repeated), passes at most, pages per pass at most. */
const LIST_MIN_PAGES = 400;
const LIST_MAX_PASSES = 400;
const LIST_MAX_PAGES = 2000;

const USAGE = `Usage: npm run bench -- [options]

  --duration <s>      measured seconds per server (default 10; 3 with --quick)
  --rounds <n>        split them into n slices, the servers taking turns, so that a machine
                      whose speed drifts during the run treats both alike (default 5; 3 with --quick)
  --connections <n>   concurrent connections (default 50)
  --clients <n>       clients provisioned and used (default 10; e.g. 100000 for the data-scale check)
  --alg <alg>         signing algorithm: ES256 (default), RS256, EdDSA
  --warmup <s>        unmeasured load before each measured run (default 2; 1 with --quick)
  --samples <n>       tokens fetched and verified after each run (default 20)
  --page-size <n>     clients per page when listing the organization (default 50, the API's default)
  --only <server>     portcullis or oidc-provider (default: both, side by side)
  --workers <n>       Portcullis server processes sharing the port, as WORKERS (default 1;
                      more than one needs DATABASE_URL)
  --random            draw a client at random for every request even with few clients (the mode
                      used above 1000), to compare client counts with the same load generator work
  --quick             a short run (3 s per server), well under a minute in all
  --json              print the results as JSON
  -h, --help          this text

Portcullis uses the embedded database, or PostgreSQL when DATABASE_URL is set
(a throwaway database is created on that server and dropped afterwards).`;

// ---------------------------------------------------------------- options

let args;
try {
  args = parseArgs({
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      'page-size': { type: 'string' },
      connections: { type: 'string' },
      clients: { type: 'string' },
      alg: { type: 'string' },
      warmup: { type: 'string' },
      samples: { type: 'string' },
      only: { type: 'string' },
      workers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      random: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  console.error(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveInt(name, raw, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(String(raw)) || n < min || n > max) {
    console.error(`--${name}: an integer from ${min} to ${max} expected, got ${JSON.stringify(raw)}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const opts = {
  duration: positiveInt('duration', args.duration ?? (args.quick ? '3' : '10'), { max: 3600 }),
  connections: positiveInt('connections', args.connections ?? '50', { max: 10_000 }),
  clients: positiveInt('clients', args.clients ?? '10', { max: 10_000_000 }),
  alg: args.alg ?? 'ES256',
  rounds: positiveInt('rounds', args.rounds ?? (args.quick ? '3' : '5'), { max: 1000 }),
  pageSize: positiveInt('page-size', args['page-size'] ?? '50', { max: 200 }),
  warmup: positiveInt('warmup', args.warmup ?? (args.quick ? '1' : '2'), { min: 0, max: 600 }),
  samples: positiveInt('samples', args.samples ?? '20', { max: 10_000 }),
  workers: positiveInt('workers', args.workers ?? '1', { max: 64 }),
  quick: args.quick,
  random: args.random,
  json: args.json,
  only: args.only,
};
if (opts.rounds > opts.duration) {
  console.error(`--rounds: at most --duration (${opts.duration}): every slice lasts whole seconds`);
  process.exit(2);
}
if (!ALGS.includes(opts.alg)) {
  console.error(`--alg: one of ${ALGS.join(', ')} expected, got ${JSON.stringify(opts.alg)}`);
  process.exit(2);
}
if (opts.only !== undefined && !['portcullis', 'oidc-provider'].includes(opts.only)) {
  console.error(`--only: portcullis or oidc-provider expected, got ${JSON.stringify(opts.only)}`);
  process.exit(2);
}
if (opts.workers > 1 && !process.env.DATABASE_URL) {
  console.error('--workers: more than one Portcullis process needs DATABASE_URL (the embedded database serves one process)');
  process.exit(2);
}
if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first (`npm run bench` does).');
  process.exit(2);
}
const { generateSecret } = await import('../dist/clients/secret.js');

const log = (msg) => process.stderr.write(`${msg}\n`);
const hostCpus = os.availableParallelism?.() ?? os.cpus().length;

// ---------------------------------------------------------------- cleanup

const children = new Set(); // { child }
const tempDirs = new Set(); // { dataDir }
let currentLoad; // the running autocannon instance, if any

function killAll() {
  currentLoad?.stop?.();
  for (const c of children) {
    try {
      c.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const t of tempDirs) fs.rmSync(t.dataDir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers`);
    // A polite stop lets the Portcullis child drop its throwaway PostgreSQL database; SIGKILL follows on exit.
    for (const c of children) c.child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 1500).unref();
  });
}

// ---------------------------------------------------------------- servers

const SERVERS = [
  {
    key: 'portcullis',
    name: 'Portcullis',
    script: path.join(HERE, 'portcullis-server.mjs'),
    tokenPath: '/oauth/token',
    metadataPath: '/.well-known/oauth-authorization-server',
    wrongSecret: () => generateSecret(),
    body: `grant_type=client_credentials&audience=${encodeURIComponent(AUDIENCE)}`,
    // RFC 9068 and API.md §2: typ at+jwt, sub = client_id = the client, org_id, roles.
    checkClaims: (payload, header, client) => [
      header.typ === 'at+jwt' || `typ ${header.typ}`,
      payload.client_id === client.id || `client_id ${payload.client_id}`,
      payload.sub === client.id || `sub ${payload.sub}`,
      typeof payload.org_id === 'string' || 'org_id missing',
      (Array.isArray(payload.roles) && payload.roles.length > 0) || 'roles missing',
    ],
  },
  {
    key: 'oidc-provider',
    name: 'oidc-provider',
    script: path.join(HERE, 'oidc-provider-server.mjs'),
    tokenPath: '/token', // the provider's default routes.token
    metadataPath: '/.well-known/openid-configuration',
    wrongSecret: () => randomBytes(32).toString('base64url'),
    // oidc-provider v9 grants no resource-server scope unless asked for (lib/actions/grants/client_credentials.js).
    body: `grant_type=client_credentials&resource=${encodeURIComponent(AUDIENCE)}&scope=${encodeURIComponent(SCOPE)}`,
    checkClaims: (payload, header, client) => [
      header.typ === 'at+jwt' || `typ ${header.typ}`,
      payload.client_id === client.id || `client_id ${payload.client_id}`,
      payload.sub === client.id || `sub ${payload.sub}`,
    ],
  },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Forks `script` and waits for the IPC message of type `expect`. The child's output is kept
 * (the last 20 kB) to explain a failure. Children are killed when this process exits.
 */
async function spawnChild(server, script, env, expect, timeoutMs) {
  const child = fork(script, [], {
    cwd: ROOT,
    // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers under load
    execArgv: process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : [],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const entry = { child };
  children.add(entry);
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(entry);
      resolve({ code, signal });
    }),
  );
  const msg = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${server.name} did not report "${expect}" within ${timeoutMs / 1000} s\n${output}`)), timeoutMs);
    child.on('message', (m) => {
      if (m?.type === expect) {
        clearTimeout(timer);
        resolve(m);
      } else if (m?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${server.name} failed: ${m.message}\n${output}`));
      }
    });
    exited.then(({ code, signal }) => {
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
 * Starts a server for the measurement and returns {child, info: {url, issuer, audience, clients, ...}, stop}.
 * Portcullis is provisioned by one process and served by a second one on the same database
 * (see bench/portcullis-server.mjs for why); oidc-provider's clients are static configuration.
 */
async function startServerUnderTest(server) {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${server.key}-bench-`));
  const cleanup = { dataDir };
  tempDirs.add(cleanup);
  const env = {
    BENCH_PORT: String(port),
    BENCH_DATA_DIR: dataDir,
    BENCH_ALG: opts.alg,
    BENCH_CLIENTS: String(opts.clients),
    BENCH_AUDIENCE: AUDIENCE,
    BENCH_RATE_LIMIT: String(RATE_LIMIT),
    BENCH_WORKERS: String(opts.workers),
    MASTER_KEY: randomBytes(32).toString('base64'),
  };
  const timeoutMs = 120_000 + opts.clients * 2; // provisioning 100,000 clients takes a while
  let info;
  let serving;
  try {
    if (server.key === 'portcullis') {
      const provisioned = await spawnChild(server, server.script, { ...env, BENCH_PHASE: 'provision' }, 'provisioned', timeoutMs);
      await provisioned.exited;
      serving = await spawnChild(server, server.script, { ...env, BENCH_PHASE: 'serve', BENCH_DATABASE: provisioned.msg.database ?? '' }, 'ready', 120_000);
      const { clients, provisioning, orgId, lister } = provisioned.msg;
      info = { ...serving.msg, clients, provisioning, orgId, lister };
    } else {
      serving = await spawnChild(server, server.script, env, 'ready', timeoutMs);
      info = serving.msg;
    }
  } catch (err) {
    await serving?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(cleanup);
    throw err;
  }
  for (const u of [info.url, info.issuer]) {
    if (new URL(u).hostname !== '127.0.0.1') throw new Error(`${server.name}: expected a loopback URL, got ${u}`);
  }
  const stop = async () => {
    await serving.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(cleanup);
  };
  return { child: serving.child, info, stop };
}

// ---------------------------------------------------------------- measurement helpers

function basic(client) {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
}

function readProcStatus(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: NaN, hwmKb: NaN };
  }
}

/** Resets the kernel's peak-RSS mark (VmHWM) of a process we own; false where that is not possible. */
function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

let clockTicks;
function cpuSeconds(pid) {
  clockTicks ??= (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime + stime
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat), to see what else ran during a measurement. */
function machineJiffies() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - f[3] - f[4], total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** CPU seconds of every process (pid → {name, seconds}), to name what else ran during a measurement. */
function processCpu() {
  const out = new Map();
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    const seconds = cpuSeconds(pid);
    if (!Number.isFinite(seconds)) continue;
    let name = '?';
    try {
      name = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ').slice(0, 80) || `[${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]`; // a kernel thread
    } catch {
      // gone
    }
    out.set(pid, { name, seconds });
  }
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Requests for autocannon: round-robin over the clients, or a random client per request when there are many. */
function loadRequests(server, clients) {
  const headers = clients.map((c) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c) }));
  const body = Buffer.from(server.body);
  if (clients.length <= ROUND_ROBIN_MAX && !opts.random) {
    // Prebuilt requests: every connection cycles through all clients in turn.
    return { mode: 'round-robin', requests: headers.map((h) => ({ method: 'POST', path: server.tokenPath, headers: h, body })) };
  }
  return {
    mode: 'random client per request',
    requests: [
      {
        method: 'POST',
        path: server.tokenPath,
        body,
        setupRequest: (req) => {
          req.headers = headers[Math.floor(Math.random() * headers.length)];
          return req;
        },
      },
    ],
  };
}

async function runLoad(url, requests, seconds, onResponse) {
  const instance = autocannon({
    url,
    method: 'POST',
    connections: opts.connections,
    duration: seconds,
    requests,
    timeout: 10,
  });
  currentLoad = instance;
  if (onResponse) instance.on('response', onResponse);
  try {
    return await instance;
  } finally {
    currentLoad = undefined;
  }
}

/**
 * Preflight and warm-up of a started server; returns what the measured slices need.
 * Preflight: the first and the last client (the last is bulk-inserted when there are many) get a token.
 */
async function prepare(server, started) {
  const { child, info } = started;
  // The server's processes: one, or with --workers the cluster's primary and its workers.
  const pids = [child.pid, ...(info.workerPids ?? [])];
  const { mode, requests } = loadRequests(server, info.clients);
  for (const client of new Set([info.clients[0], info.clients[info.clients.length - 1]])) {
    const res = await tokenRequest(server, info, client);
    if (res.status !== 200) throw new Error(`${server.name}: preflight token request answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  if (opts.warmup > 0) {
    log(`${server.name}: warm-up ${opts.warmup} s`);
    await runLoad(info.url, requests, opts.warmup);
  }
  return {
    server,
    info,
    pids,
    mode,
    requests,
    rssKbOf: () => pids.reduce((t, p) => t + readProcStatus(p).rssKb, 0),
    cpuOf: () => pids.reduce((t, p) => t + cpuSeconds(p), 0),
    // Accumulated over the measured slices:
    latencies: new Float64Array(1 << 18),
    count: 0,
    ok: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    statusCodes: {},
    seconds: 0,
    wall: 0,
    serverCpu: 0,
    selfCpu: 0,
    machineBusy: 0,
    machineTotal: 0,
    others: new Map(), // pid → {name, seconds}
    peakRssKb: 0,
    hwmReset: true,
    slices: [], // tokens/s of each slice
  };
}

/** One measured slice of `seconds` against a prepared server; adds to its totals. */
async function measureSlice(m, seconds) {
  m.hwmReset = m.pids.map(resetPeakRss).every(Boolean) && m.hwmReset;
  m.peakRssKb = Math.max(m.peakRssKb, m.rssKbOf());
  const sampler = setInterval(() => {
    m.peakRssKb = Math.max(m.peakRssKb, m.rssKbOf());
  }, 100);
  const onResponse = (_client, _status, _bytes, responseTime) => {
    if (m.count === m.latencies.length) {
      const bigger = new Float64Array(m.latencies.length * 2);
      bigger.set(m.latencies);
      m.latencies = bigger;
    }
    m.latencies[m.count++] = responseTime;
  };
  const cpu0 = m.cpuOf();
  const self0 = process.cpuUsage();
  const machine0 = machineJiffies();
  const procs0 = processCpu();
  const t0 = performance.now();
  const result = await runLoad(m.info.url, m.requests, seconds, onResponse);
  const wall = (performance.now() - t0) / 1000;
  const selfCpu = process.cpuUsage(self0);
  const cpu1 = m.cpuOf();
  const machine1 = machineJiffies();
  const procs1 = processCpu();
  clearInterval(sampler);
  // The sum of the processes' high-water marks (each may peak at a different moment: an upper bound).
  const hwmKb = m.pids.reduce((t, p) => t + readProcStatus(p).hwmKb, 0);
  if (m.hwmReset) m.peakRssKb = Math.max(m.peakRssKb, hwmKb);
  m.peakRssKb = Math.max(m.peakRssKb, m.rssKbOf());

  m.ok += result['2xx'];
  m.non2xx += result.non2xx;
  m.errors += result.errors;
  m.timeouts += result.timeouts;
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) m.statusCodes[code] = (m.statusCodes[code] ?? 0) + stat.count;
  m.seconds += result.duration;
  m.wall += wall;
  m.serverCpu += cpu1 - cpu0;
  m.selfCpu += (selfCpu.user + selfCpu.system) / 1e6;
  m.machineBusy += machine1.busy - machine0.busy;
  m.machineTotal += machine1.total - machine0.total;
  const exclude = new Set([...m.pids.map(String), String(process.pid)]);
  for (const [pid, a] of procs1) {
    if (exclude.has(pid)) continue;
    const used = a.seconds - (procs0.get(pid)?.seconds ?? 0); // a process born during the slice counts from 0
    if (used > 0) m.others.set(pid, { name: a.name, seconds: (m.others.get(pid)?.seconds ?? 0) + used });
  }
  const perSecond = result['2xx'] / result.duration;
  m.slices.push(perSecond);
  return perSecond;
}

/** The figures of a server over all its measured slices. */
function summarize(m) {
  const sorted = m.latencies.subarray(0, m.count).sort();
  const measured = {
    tokensPerSecond: m.ok / m.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: m.non2xx + m.errors, // autocannon counts timeouts among errors
    non2xx: m.non2xx,
    connectionErrors: m.errors - m.timeouts,
    timeouts: m.timeouts,
    statusCodes: m.statusCodes,
    tokens: m.ok,
    responses: m.count,
    durationSeconds: m.seconds,
    rounds: m.slices.length,
    tokensPerSecondByRound: m.slices,
    peakRssMb: m.peakRssKb / 1024,
    peakRssMethod: m.hwmReset ? 'VmHWM reset before each measured slice, and VmRSS sampled every 100 ms' : 'VmRSS sampled every 100 ms',
    serverCpuPercent: (m.serverCpu / m.wall) * 100,
    loadGeneratorCpuPercent: (m.selfCpu / m.wall) * 100,
    otherCpuPercent: 0, // filled in below
    machineBusyPercent: (m.machineBusy / m.machineTotal) * 100 * hostCpus,
    requestMode: m.mode,
    processes: m.pids.length,
  };
  const rows = [];
  let databasePercent = 0;
  for (const [pid, o] of m.others) {
    const percent = (o.seconds / m.wall) * 100;
    // PostgreSQL backends serving the bench database work for the server under test.
    if (m.info.databaseName && o.name.includes(m.info.databaseName)) databasePercent += percent;
    else rows.push({ pid: Number(pid), name: o.name, cpuPercent: percent });
  }
  rows.sort((x, y) => y.cpuPercent - x.cpuPercent);
  measured.otherProcesses = rows.slice(0, 3);
  if (m.info.databaseName) {
    measured.nodeCpuPercent = measured.serverCpuPercent;
    measured.databaseCpuPercent = databasePercent;
    measured.serverCpuPercent += databasePercent;
  }
  // Whatever else kept the machine's CPUs busy (processes, also short-lived ones that /proc no
  // longer lists at the end, and kernel time billed to no process), in % of one CPU.
  measured.otherCpuPercent = Math.max(0, measured.machineBusyPercent - measured.serverCpuPercent - measured.loadGeneratorCpuPercent);
  return measured;
}

/**
 * Lists the bench organization's clients page by page through the management API
 * (`GET /api/v1/organizations/{org}/clients?limit=…&cursor=…`), one request at a time, as the
 * organization's automation would, with a token of its client-reader client. Whole passes are
 * repeated until at least LIST_MIN_PAGES pages were fetched (LIST_MAX_PASSES at most), or a
 * pass stops at LIST_MAX_PAGES. Checks that the first pass saw every client exactly once.
 */
async function measureListing(info) {
  const tokenRes = await fetch(`${info.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(info.lister) },
    body: `grant_type=client_credentials&audience=${encodeURIComponent(`${info.issuer}/api/v1/`)}`,
  });
  if (tokenRes.status !== 200) throw new Error(`Portcullis: the lister's token request answered ${tokenRes.status}: ${await tokenRes.text()}`);
  const { access_token: token } = await tokenRes.json();
  const expected = info.clients.length + 1; // and the lister itself
  const times = [];
  let passes = 0;
  let firstPass;
  const problems = [];
  while (times.length < LIST_MIN_PAGES && passes < LIST_MAX_PASSES) {
    passes++;
    const seen = new Set();
    let cursor = null;
    do {
      const url = `${info.url}/api/v1/organizations/${encodeURIComponent(info.orgId)}/clients?limit=${opts.pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const t0 = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`Portcullis: listing answered ${res.status}: ${text.slice(0, 300)}`);
      const page = JSON.parse(text);
      for (const c of page.data) {
        if (passes === 1 && seen.has(c.client_id)) problems.push(`client ${c.client_id} listed twice`);
        seen.add(c.client_id);
      }
      cursor = page.next_cursor;
    } while (cursor && times.length < LIST_MAX_PAGES * passes);
    if (passes === 1) {
      firstPass = { pages: times.length, clients: seen.size, complete: !cursor };
      if (!cursor && seen.size !== expected) problems.push(`a full pass listed ${seen.size} clients, expected ${expected}`);
    }
    if (cursor) break; // a partial pass (a very large organization): enough pages
  }
  const sorted = Float64Array.from(times).sort();
  return {
    pageSize: opts.pageSize,
    organizationClients: expected,
    pagesPerPass: firstPass.complete ? firstPass.pages : undefined,
    passes,
    pages: times.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    problems,
    ok: problems.length === 0,
  };
}

function tokenRequest(server, info, client, secret = client.secret) {
  return fetch(`${info.url}${server.tokenPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic({ id: client.id, secret }) },
    body: server.body,
  });
}

/**
 * Fetches `opts.samples` tokens through the same requests as the load (random clients, always
 * including the first and the last) and verifies each with the server's published JWKS:
 * signature and algorithm, iss, aud, exp/iat, typ, client_id/sub, scope, unique jti. Also checks
 * that a wrong secret is refused, so that a server cannot be fast by accepting anything.
 */
async function verifySample(server, info) {
  const failures = [];
  const metadata = await (await fetch(`${info.url}${server.metadataPath}`)).json();
  if (metadata.issuer !== info.issuer) failures.push(`metadata issuer ${metadata.issuer}, expected ${info.issuer}`);
  const jwksUrl = new URL(metadata.jwks_uri);
  if (jwksUrl.hostname !== '127.0.0.1') throw new Error(`${server.name}: jwks_uri ${metadata.jwks_uri} is not on loopback`);
  const jwks = await (await fetch(jwksUrl)).json();
  const keySet = createLocalJWKSet(jwks);

  const picks = [info.clients[0], info.clients[info.clients.length - 1]];
  while (picks.length < opts.samples) picks.push(info.clients[Math.floor(Math.random() * info.clients.length)]);
  const jtis = new Set();
  let valid = 0;
  for (const client of picks.slice(0, opts.samples)) {
    const problems = [];
    const res = await tokenRequest(server, info, client);
    const text = await res.text();
    if (res.status !== 200) {
      failures.push(`client ${client.id}: status ${res.status}: ${text.slice(0, 200)}`);
      continue;
    }
    const body = JSON.parse(text);
    if (body.token_type !== 'Bearer') problems.push(`token_type ${body.token_type}`);
    if (body.expires_in !== 3600) problems.push(`expires_in ${body.expires_in}`);
    if (!/no-store/.test(res.headers.get('cache-control') ?? '')) problems.push('Cache-Control: no-store missing');
    try {
      const header = decodeProtectedHeader(body.access_token);
      const { payload } = await jwtVerify(body.access_token, keySet, {
        issuer: info.issuer,
        audience: info.audience,
        algorithms: [opts.alg],
        requiredClaims: ['iat', 'exp', 'jti', 'sub', 'client_id', 'scope'],
      });
      const now = Math.floor(Date.now() / 1000);
      const checks = [
        header.alg === opts.alg || `alg ${header.alg}`,
        typeof header.kid === 'string' || 'kid missing',
        payload.exp - payload.iat === 3600 || `lifetime ${payload.exp - payload.iat} s`,
        Math.abs(payload.iat - now) <= 60 || `iat ${payload.iat} is not now`,
        [...new Set(payload.scope.split(' '))].sort().join(' ') === SCOPE || `scope "${payload.scope}"`,
        body.scope === undefined || body.scope.split(' ').sort().join(' ') === SCOPE || `response scope "${body.scope}"`,
        !jtis.has(payload.jti) || `jti ${payload.jti} repeated`,
        ...server.checkClaims(payload, header, client),
      ];
      jtis.add(payload.jti);
      problems.push(...checks.filter((c) => c !== true));
    } catch (err) {
      problems.push(`${err.code ?? err.name}: ${err.message}`);
    }
    if (problems.length > 0) failures.push(`client ${client.id}: ${problems.join('; ')}`);
    else valid++;
  }

  // A wrong secret must be refused; for Portcullis one of the right format and checksum, so that
  // the refusal comes from the hash comparison and not from the format check.
  const victim = info.clients[0];
  const wrong = await tokenRequest(server, info, victim, server.wrongSecret());
  await wrong.arrayBuffer();
  const wrongSecretRefused = wrong.status === 401;
  if (!wrongSecretRefused) failures.push(`a wrong secret answered ${wrong.status}, expected 401`);
  return { sampled: opts.samples, valid, wrongSecretRefused, failures, ok: failures.length === 0 };
}

// ---------------------------------------------------------------- machine and output

function machine() {
  let cpuModel = 'unknown';
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux
  }
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // no coreutils
  }
  return {
    nproc,
    cpuModel,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage1mBefore: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

function pkgVersion(name) {
  try {
    const file = name === 'portcullis' ? path.join(ROOT, 'package.json') : path.join(ROOT, 'node_modules', name, 'package.json');
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    return '?';
  }
}

function fmt(n, digits = 0) {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows) {
  const head = ['server', 'tokens/s (avg)', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MB', 'server CPU', 'load-gen CPU', 'other CPU'];
  const body = rows.map((r) => [
    r.server,
    fmt(r.tokensPerSecond),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.errors),
    fmt(r.peakRssMb, 1),
    `${fmt(r.serverCpuPercent)}%`,
    `${fmt(r.loadGeneratorCpuPercent)}%`,
    `${fmt(r.otherCpuPercent)}%`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...body.map(line)].join('\n');
}

function commandLine() {
  const parts = ['npm run bench --'];
  if (opts.quick) parts.push('--quick');
  if (opts.random) parts.push('--random');
  for (const key of ['duration', 'rounds', 'connections', 'clients', 'alg', 'warmup', 'samples', 'page-size', 'only', 'workers']) {
    if (args[key] !== undefined) parts.push(`--${key} ${args[key]}`);
  }
  if (opts.json) parts.push('--json');
  const cmd = parts.join(' ');
  const prefix = process.env.DATABASE_URL ? 'DATABASE_URL=… ' : '';
  return prefix + (cmd === 'npm run bench --' ? 'npm run bench' : cmd);
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const host = machine();
  const servers = SERVERS.filter((s) => opts.only === undefined || s.key === opts.only);
  const results = [];
  // Every server is started and warmed up first; then the measured slices take turns.
  const prepared = [];
  try {
    for (const server of servers) {
      log(`${server.name}: starting, provisioning ${fmt(opts.clients)} clients`);
      const running = await startServerUnderTest(server);
      const entry = { running };
      prepared.push(entry);
      log(`  ${running.info.url}, ${running.info.database}`);
      entry.rssAtReadyMb = running.info.rssAtReadyMb ?? [running.child.pid, ...(running.info.workerPids ?? [])].reduce((t, p) => t + readProcStatus(p).rssKb, 0) / 1024;
      entry.m = await prepare(server, running);
    }
    const slices = Array.from({ length: opts.rounds }, (_, i) => Math.floor(opts.duration / opts.rounds) + (i < opts.duration % opts.rounds ? 1 : 0));
    log(`measuring ${opts.duration} s per server at ${opts.connections} connections (${prepared[0].m.mode}), in ${opts.rounds} rounds taking turns`);
    for (const [round, seconds] of slices.entries()) {
      // Alternate who goes first, so that neither always follows the other's load.
      const order = round % 2 === 0 ? prepared : [...prepared].reverse();
      const line = [];
      for (const { m } of order) line.push(`${m.server.name} ${fmt(await measureSlice(m, seconds))}`);
      log(`  round ${round + 1}/${opts.rounds} (${seconds} s each): ${line.join(', ')} tokens/s`);
    }
    for (const { running, m, rssAtReadyMb } of prepared) {
      const measured = summarize(m);
      log(`${m.server.name}: verifying ${opts.samples} tokens`);
      measured.verification = await verifySample(m.server, running.info);
      if (m.server.key === 'portcullis') {
        // A second for what the load left behind (the last usage flush, a garbage collection) to finish.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        log(`${m.server.name}: listing the organization's ${fmt(running.info.clients.length + 1)} clients page by page (limit ${opts.pageSize})`);
        measured.listing = await measureListing(running.info);
      }
      results.push({ server: m.server.name, database: running.info.database, provisioning: running.info.provisioning, rssAtReadyMb, ...measured });
      log(`  ${fmt(measured.tokensPerSecond)} tokens/s, ${measured.verification.ok ? 'tokens valid' : 'INVALID TOKENS'}`);
    }
  } finally {
    for (const { running } of prepared) await running.stop();
  }

  const byKey = Object.fromEntries(results.map((r) => [r.server, r]));
  const ratio = byKey.Portcullis && byKey['oidc-provider'] ? byKey.Portcullis.tokensPerSecond / byKey['oidc-provider'].tokensPerSecond : undefined;
  // The same ratio within each round: how much the machine's drift moved it.
  const roundRatios = ratio === undefined ? [] : byKey.Portcullis.tokensPerSecondByRound.map((p, i) => p / byKey['oidc-provider'].tokensPerSecondByRound[i]);
  const portcullis = byKey.Portcullis;
  const notes = [];
  if (portcullis) {
    const p = portcullis.provisioning;
    notes.push(
      `Portcullis ${pkgVersion('portcullis')}: ${portcullis.database}; ` +
        (p.bulk > 0
          ? `${fmt(p.viaService)} clients created through ClientService (${p.serviceSeconds.toFixed(1)} s) and ${fmt(p.bulk)} bulk-inserted with SQL in the same format (${p.bulkSeconds.toFixed(1)} s, no audit events)`
          : `${fmt(p.viaService)} clients created through ClientService (${p.serviceSeconds.toFixed(1)} s)`) +
        `; LOG_LEVEL=warn${opts.workers > 1 ? `; ${opts.workers} worker processes (node:cluster) plus the primary: RSS and CPU are their sums` : ''}.`,
      ...(portcullis.databaseCpuPercent !== undefined
        ? [`Portcullis on PostgreSQL: "server CPU" includes the PostgreSQL backends serving the bench database (${fmt(portcullis.databaseCpuPercent)}% of it); "peak RSS" is the Node process alone.`]
        : []),
      `Portcullis: the per-client token rate limit was raised for the run (TOKEN_RATE_LIMIT=${RATE_LIMIT} per minute instead of the default 6000), because the load is a few clients hammering; the limiter still runs on every request.`,
    );
  }
  if (byKey['oidc-provider']) {
    notes.push(
      `oidc-provider ${pkgVersion('oidc-provider')}: static clients, default in-memory adapter (persists nothing), JWT access tokens through resource indicators, scope requested explicitly.`,
    );
  }
  notes.push(
    `Load: autocannon ${pkgVersion('autocannon')} in the bench process (one thread) on 127.0.0.1, sharing the machine's ${host.nproc} CPUs with the server under test; ` +
      `${results[0]?.requestMode ?? ''}; one server loaded at a time, in ${opts.rounds} rounds of ${opts.duration / opts.rounds} s each taking turns (alternating who goes first); warm-up ${opts.warmup} s per server before the first round; tokens/s = 2xx answers over all rounds / measured seconds; p50/p99 over every response of every round; errors = non-2xx + connection errors + timeouts.`,
  );

  const allValid = results.every((r) => r.verification.ok && (r.listing?.ok ?? true));
  const output = {
    command: commandLine(),
    options: {
      duration: opts.duration,
      rounds: opts.rounds,
      pageSize: opts.pageSize,
      connections: opts.connections,
      clients: opts.clients,
      alg: opts.alg,
      warmup: opts.warmup,
      samples: opts.samples,
      workers: opts.workers,
      quick: opts.quick,
    },
    machine: host,
    results,
    ratio,
    roundRatios,
    allTokensValid: allValid,
    notes,
    elapsedSeconds: (Date.now() - started) / 1000,
  };

  if (opts.json) {
    console.log(JSON.stringify(output, null, 2));
  } else {
    const out = [];
    out.push(`Token issuance: POST /oauth/token, client_credentials, client_secret_basic, ${opts.alg} JWT access tokens`);
    out.push('');
    out.push(table(results));
    if (ratio !== undefined) {
      const sorted = [...roundRatios].sort((a, b) => a - b);
      out.push(`\nPortcullis / oidc-provider: ${ratio.toFixed(2)}× (round by round: ${roundRatios.map((r) => r.toFixed(2)).join(', ')}; median ${percentile(sorted, 50).toFixed(2)})`);
    }
    const listing = byKey.Portcullis?.listing;
    if (listing) {
      out.push(
        `\nListing an organization of ${fmt(listing.organizationClients)} clients page by page (GET /api/v1/organizations/{org}/clients?limit=${listing.pageSize}, one request at a time, bearer token): ` +
          `${fmt(listing.pages)} pages${listing.pagesPerPass ? ` (${listing.passes} passes of ${fmt(listing.pagesPerPass)})` : ''}, p50 ${fmt(listing.p50Ms, 2)} ms, p99 ${fmt(listing.p99Ms, 2)} ms, max ${fmt(listing.maxMs, 2)} ms` +
          (listing.ok ? '' : `; PROBLEMS: ${listing.problems.join('; ')}`),
      );
    }
    out.push('');
    for (const r of results) {
      const v = r.verification;
      out.push(
        `${r.server}: ${v.ok ? `sampled ${v.sampled} tokens: all valid` : `sampled ${v.sampled} tokens: ${v.valid} valid, FAILURES:\n    ${v.failures.join('\n    ')}`}` +
          (v.wrongSecretRefused ? '; a wrong secret was refused (401)' : '') +
          `; RSS ${fmt(r.rssAtReadyMb, 0)} MB when ready, before the load`,
      );
      if (r.otherCpuPercent > 15) {
        const names = r.otherProcesses.map((o) => `${o.name} ${fmt(o.cpuPercent)}%`).join('; ');
        out.push(`  warning: other work used ${fmt(r.otherCpuPercent)}% of a CPU while ${r.server} was measured (busiest other processes: ${names || 'none seen'}): its figures are understated`);
      }
      if (r.errors > 0) out.push(`  ${r.server} errors: ${JSON.stringify({ non2xx: r.non2xx, statusCodes: r.statusCodes, connectionErrors: r.connectionErrors, timeouts: r.timeouts })}`);
    }
    out.push('');
    out.push(`machine: ${host.nproc} CPUs (nproc), ${host.cpuModel}, ${host.memoryGb} GB RAM, ${host.os}, node ${host.node}; 1-min load average before the run: ${host.loadAverage1mBefore}`);
    out.push(
      `options: --duration ${opts.duration} --rounds ${opts.rounds} --connections ${opts.connections} --clients ${opts.clients} --alg ${opts.alg} --warmup ${opts.warmup} --samples ${opts.samples} --page-size ${opts.pageSize}${opts.workers > 1 ? ` --workers ${opts.workers}` : ''}${opts.random ? ' --random' : ''}${opts.quick ? ' (--quick)' : ''}`,
    );
    out.push(`command: ${output.command}`);
    for (const n of notes) out.push(`- ${n}`);
    out.push(`(${output.elapsedSeconds.toFixed(0)} s in all)`);
    console.log(out.join('\n'));
  }
  return allValid ? 0 : 1;
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err) => {
    console.error(`bench failed: ${err?.stack ?? err}`);
    killAll();
    process.exit(1);
  },
);
