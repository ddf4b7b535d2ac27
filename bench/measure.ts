// The measured load of one server: warm-up, the measured slices (tokens, latencies, CPU, peak
// RSS, what else ran) and the figures over all of them.
import { hostCpus } from './host.js';
import { loadRequests, runLoad, tokenRequest, type Requests } from './load.js';
import { log } from './log.js';
import type { Options } from './options.js';
import { cpuSeconds, machineJiffies, processCpu, readProcStatus, resetPeakRss, type ProcessCpu } from './proc.js';
import type { ServerUnderTest, ServerInfo } from './spawn.js';
import type { ServerSpec } from './servers.js';
import { percentile } from './stats.js';

/** A prepared server and what its measured slices added up so far. */
export interface Measurement {
  server: ServerSpec;
  info: ServerInfo;
  pids: number[];
  mode: string;
  requests: Requests;
  connections: number;
  rssKbOf: () => number;
  cpuOf: () => number;
  latencies: Float64Array;
  count: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  seconds: number;
  wall: number;
  serverCpu: number;
  selfCpu: number;
  machineBusy: number;
  machineTotal: number;
  others: Map<string, ProcessCpu>;
  peakRssKb: number;
  hwmReset: boolean;
  /** tokens/s of each slice */
  slices: number[];
}

/** The figures of a server; key order is the --json output's. */
export interface Summary {
  tokensPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p99OverP50: number;
  errors: number;
  non2xx: number;
  connectionErrors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  tokens: number;
  responses: number;
  durationSeconds: number;
  rounds: number;
  tokensPerSecondByRound: number[];
  peakRssMb: number;
  peakRssMethod: string;
  serverCpuPercent: number;
  loadGeneratorCpuPercent: number;
  otherCpuPercent: number;
  machineBusyPercent: number;
  requestMode: string;
  processes: number;
  /** Servers on their own ports (--nodes), each loaded by its own load generator. */
  nodes: number;
  otherProcesses?: { pid: number; name: string; cpuPercent: number }[];
  nodeCpuPercent?: number;
  databaseCpuPercent?: number;
}

/**
 * Preflight and warm-up of a started server; returns what the measured slices need.
 * Preflight: the first and the last client (the last is bulk-inserted when there are many) get a token.
 */
export async function prepare(server: ServerSpec, started: ServerUnderTest, opts: Options): Promise<Measurement> {
  const { child, info } = started;
  // The server's processes: one, or with --workers the cluster's primary and its workers.
  const pids = [child.pid ?? NaN, ...(info.workerPids ?? []), ...info.nodePids];
  const { mode, requests } = loadRequests(server, info.clients, opts.random);
  for (const client of new Set([info.clients[0], info.clients[info.clients.length - 1]])) {
    if (!client) throw new Error(`${server.name}: no clients`);
    const res = await tokenRequest(server, info.url, client);
    if (res.status !== 200) throw new Error(`${server.name}: preflight token request answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  return {
    server,
    info,
    pids,
    mode,
    requests,
    connections: opts.connections,
    rssKbOf: () => pids.reduce((t, p) => t + readProcStatus(p).rssKb, 0),
    cpuOf: () => pids.reduce((t, p) => t + cpuSeconds(p), 0),
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
    others: new Map(),
    peakRssKb: 0,
    hwmReset: true,
    slices: [],
  };
}

/**
 * Loads a prepared server for `opts.warmup` seconds, unmeasured. bench/run.ts warms every server
 * up once all are started, one after the other, just before the rounds: so that none has sat
 * idle for the others' start-ups (about 16 s for the first of four) when it is first measured.
 */
export async function warmUp(m: Measurement, opts: Options): Promise<void> {
  if (opts.warmup <= 0) return;
  log(`${m.server.name}: warm-up ${opts.warmup} s`);
  await runLoad(m.info.urls, m.requests, m.connections, opts.warmup);
}

/** One measured slice of `seconds` against a prepared server; adds to its totals and returns its tokens/s. */
export async function measureSlice(m: Measurement, seconds: number): Promise<number> {
  m.hwmReset = m.pids.map(resetPeakRss).every(Boolean) && m.hwmReset;
  m.peakRssKb = Math.max(m.peakRssKb, m.rssKbOf());
  const sampler = setInterval(() => {
    m.peakRssKb = Math.max(m.peakRssKb, m.rssKbOf());
  }, 100);
  const onResponse = (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
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
  const result = await runLoad(m.info.urls, m.requests, m.connections, seconds, onResponse);
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
export function summarize(m: Measurement): Summary {
  const sorted = m.latencies.subarray(0, m.count).sort();
  const p50Ms = percentile(sorted, 50);
  const p99Ms = percentile(sorted, 99);
  const measured: Summary = {
    tokensPerSecond: m.ok / m.seconds,
    p50Ms,
    p99Ms,
    p99OverP50: p99Ms / p50Ms,
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
    nodes: m.info.urls.length,
  };
  const rows: { pid: number; name: string; cpuPercent: number }[] = [];
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
