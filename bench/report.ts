// The results: notes on how they were obtained, and the output as a table or as JSON.
import fs from 'node:fs';
import path from 'node:path';
import type { PortcullisProvisioning, StaticProvisioning } from './child-protocol.js';
import { RATE_LIMIT, ROOT } from './constants.js';
import { hostCpus, type Machine } from './host.js';
import type { Listing } from './listing.js';
import type { Summary } from './measure.js';
import type { Options, RawArgs } from './options.js';
import { percentile } from './stats.js';
import type { Verification } from './verify.js';

export interface Result extends Summary {
  server: string;
  database: string;
  provisioning: PortcullisProvisioning | StaticProvisioning | undefined;
  rssAtReadyMb: number;
  verification: Verification;
  listing?: Listing;
}

export interface Output {
  command: string;
  options: Pick<Options, 'duration' | 'rounds' | 'pageSize' | 'connections' | 'clients' | 'alg' | 'warmup' | 'samples' | 'workers' | 'nodes' | 'quick' | 'countingCost'>;
  machine: Machine;
  results: Result[];
  ratio: number | undefined;
  roundRatios: number[];
  /** Portcullis / the reference server (bench/reference-server.ts). */
  referenceRatio: number | undefined;
  referenceRoundRatios: number[];
  /** --counting-cost: Portcullis / Portcullis with usage counting off; 1 − it is what counting costs. */
  countingRatio: number | undefined;
  countingRoundRatios: number[];
  targets: Target[];
  allTokensValid: boolean;
  notes: string[];
  elapsedSeconds: number;
}

/** A goal the figures are held against; printed with a mark, never failing the run. */
export interface Target {
  what: string;
  value: number;
  /** Printed after the value, e.g. %. */
  unit?: string;
  goal: string;
  pass: boolean;
}

/** The share of throughput usage counting costs, in %, from Portcullis / Portcullis with counting off. */
const countingCostPercent = (countingRatio: number) => (1 - countingRatio) * 100;

/** The goals of the issue tracker for Portcullis' figures, those this run measured. */
export function targets(portcullis: Result | undefined, oidcRatio: number | undefined, referenceRatio: number | undefined, countingRatio: number | undefined): Target[] {
  if (!portcullis) return [];
  const out: Target[] = [];
  if (referenceRatio !== undefined) out.push({ what: 'throughput / reference', value: referenceRatio, goal: '≥ 0.85', pass: referenceRatio >= 0.85 });
  if (oidcRatio !== undefined) out.push({ what: 'throughput / oidc-provider', value: oidcRatio, goal: '≥ 3', pass: oidcRatio >= 3 });
  if (countingRatio !== undefined) {
    const cost = countingCostPercent(countingRatio);
    out.push({ what: 'usage counting cost', value: cost, unit: '%', goal: '< 5%', pass: cost < 5 });
  }
  out.push({ what: 'p99 / p50', value: portcullis.p99OverP50, goal: '< 2.5', pass: portcullis.p99OverP50 < 2.5 });
  if (portcullis.database.startsWith('embedded')) out.push({ what: 'peak RSS (embedded), MB', value: portcullis.peakRssMb, goal: '< 250', pass: portcullis.peakRssMb < 250 });
  return out;
}

function pkgVersion(name: string): string {
  try {
    const file = name === 'portcullis' ? path.join(ROOT, 'package.json') : path.join(ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: Result[]): string {
  const head = ['server', 'tokens/s (avg)', 'p50 ms', 'p99 ms', 'p99/p50', 'errors', 'peak RSS MB', 'server CPU', 'load-gen CPU', 'other CPU'];
  const body = rows.map((r) => [
    r.server,
    fmt(r.tokensPerSecond),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.p99OverP50, 2),
    fmt(r.errors),
    fmt(r.peakRssMb, 1),
    `${fmt(r.serverCpuPercent)}%`,
    `${fmt(r.loadGeneratorCpuPercent)}%`,
    `${fmt(r.otherCpuPercent)}%`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const width = (i: number) => widths[i] as number;
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(width(i)) : c.padStart(width(i)))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...body.map(line)].join('\n');
}

/** The command that repeats this run, as the user would type it. */
export function commandLine(opts: Options, args: RawArgs): string {
  const parts = ['npm run bench --'];
  if (opts.quick) parts.push('--quick');
  if (opts.random) parts.push('--random');
  if (opts.countingCost) parts.push('--counting-cost');
  for (const key of ['duration', 'rounds', 'connections', 'clients', 'alg', 'warmup', 'samples', 'page-size', 'only', 'workers', 'nodes'] as const) {
    if (args[key] !== undefined) parts.push(`--${key} ${args[key]}`);
  }
  if (opts.json) parts.push('--json');
  const cmd = parts.join(' ');
  const prefix = (process.env.DATABASE_URL ? 'DATABASE_URL=… ' : '') + (process.env.REDIS_URL ? 'REDIS_URL=… ' : '');
  return prefix + (cmd === 'npm run bench --' ? 'npm run bench' : cmd);
}

/** How the figures were obtained, for whoever quotes them. */
export function notes(results: Result[], opts: Options, host: Machine): string[] {
  const portcullis = results.find((r) => r.server === 'Portcullis');
  const out: string[] = [];
  if (portcullis) {
    const p = portcullis.provisioning as PortcullisProvisioning;
    out.push(
      `Portcullis ${pkgVersion('portcullis')}: ${portcullis.database}; ` +
        (p.bulk > 0
          ? `${fmt(p.viaService)} clients created through ClientService (${p.serviceSeconds.toFixed(1)} s) and ${fmt(p.bulk)} bulk-inserted with SQL in the same format (${p.bulkSeconds.toFixed(1)} s, no audit events)`
          : `${fmt(p.viaService)} clients created through ClientService (${p.serviceSeconds.toFixed(1)} s)`) +
        `; LOG_LEVEL=warn` +
        (opts.nodes > 1
          ? `; ${opts.nodes} nodes (separate server processes on their own ports, one database, the first node's ISSUER), each loaded by its own autocannon instance with its share of the connections`
          : '') +
        `${opts.workers > 1 ? `; ${opts.workers} worker processes (node:cluster, WORKERS) plus the primary${opts.nodes > 1 ? ' per node' : ''}: RSS and CPU are their sums` : ''}` +
        (opts.workers === 1 && opts.nodes === 1 ? '; one process (SIGNING_THREADS default: signing on a worker thread)' : '') +
        `${process.env.REDIS_URL ? '; REDIS_URL set' : ''}.`,
      ...(portcullis.databaseCpuPercent !== undefined
        ? [`Portcullis on PostgreSQL: "server CPU" includes the PostgreSQL backends serving the bench database (${fmt(portcullis.databaseCpuPercent)}% of it); "peak RSS" is the Node process alone.`]
        : []),
      `Portcullis: the per-client token rate limit was raised for the run (TOKEN_RATE_LIMIT=${RATE_LIMIT} per minute instead of the default 6000), because the load is a few clients hammering; the limiter still runs on every request${process.env.REDIS_URL ? ', counting in Redis (REDIS_URL), in batches of allowance' : ', in memory (no REDIS_URL)'}.`,
    );
  }
  const countingOff = results.find((r) => r.server === 'Portcullis, counting off');
  if (countingOff) {
    out.push(
      `${countingOff.server} (--counting-cost): the same server, provisioning and settings as Portcullis, except that its serve phase replaces the running runtime's usageCounter.issued and .failed with no-ops after start (BENCH_COUNTING=off, in the bench child only): the token path is the same but counts nothing, so Portcullis / it is the share of throughput usage counting costs.`,
    );
  }
  if (results.some((r) => r.server === 'reference')) {
    out.push(
      `reference: the practical limit — Fastify ${pkgVersion('fastify')} with @fastify/formbody, Basic parsing, an HMAC-SHA-256 check of the secret against an in-memory map and a node:crypto ${opts.alg} signature of an RFC 9068-shaped JWT, nothing else; ${hostCpus} processes (node:cluster, as many as CPUs).`,
    );
  }
  if (results.some((r) => r.server === 'oidc-provider')) {
    out.push(`oidc-provider ${pkgVersion('oidc-provider')}: static clients, default in-memory adapter (persists nothing), JWT access tokens through resource indicators, scope requested explicitly.`);
  }
  out.push(
    `Load: autocannon ${pkgVersion('autocannon')} in the bench process (one thread) on 127.0.0.1, sharing the machine's ${host.nproc} CPUs with the server under test; ` +
      `${results[0]?.requestMode ?? ''}; one server loaded at a time, in ${opts.rounds} rounds of ${opts.duration / opts.rounds} s each taking turns in the same order every round (each server idles the same time between its slices); warm-up ${opts.warmup} s per server, one after the other once all are started, before the first round; tokens/s = 2xx answers over all rounds / measured seconds; p50/p99 over every response of every round; errors = non-2xx + connection errors + timeouts.`,
  );
  return out;
}

/** The results as the text the user reads (the JSON is `output` itself). */
export function formatText(output: Output, opts: Options): string {
  const { results, ratio, roundRatios, machine: host, notes: lines } = output;
  const out: string[] = [];
  out.push(`Token issuance: POST /oauth/token, client_credentials, client_secret_basic, ${opts.alg} JWT access tokens`);
  out.push('');
  out.push(table(results));
  const ratioText = (overall: number, byRound: number[]) => {
    const sorted = [...byRound].sort((a, b) => a - b);
    return `${overall.toFixed(2)}× (round by round: ${byRound.map((r) => r.toFixed(2)).join(', ')}; median ${percentile(sorted, 50).toFixed(2)})`;
  };
  const ratios: string[] = [];
  if (ratio !== undefined) ratios.push(`Portcullis / oidc-provider: ${ratioText(ratio, roundRatios)}`);
  if (output.referenceRatio !== undefined) ratios.push(`Portcullis / reference: ${ratioText(output.referenceRatio, output.referenceRoundRatios)}`);
  if (output.countingRatio !== undefined) {
    ratios.push(
      `usage counting: Portcullis / Portcullis with counting off: ${ratioText(output.countingRatio, output.countingRoundRatios)} — counting costs ${fmt(countingCostPercent(output.countingRatio))}% of throughput`,
    );
  }
  if (ratios.length > 0) out.push(`\n${ratios.join('\n')}`);
  if (output.targets.length > 0) {
    out.push(`\nTargets (Portcullis; marks only, not tuned for yet):`);
    for (const t of output.targets) out.push(`  [${t.pass ? 'pass' : 'FAIL'}] ${t.what}: ${fmt(t.value, 2)}${t.unit ?? ''} (goal ${t.goal})`);
  }
  const listing = results.find((r) => r.server === 'Portcullis')?.listing;
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
      const names = (r.otherProcesses ?? []).map((o) => `${o.name} ${fmt(o.cpuPercent)}%`).join('; ');
      out.push(`  warning: other work used ${fmt(r.otherCpuPercent)}% of a CPU while ${r.server} was measured (busiest other processes: ${names || 'none seen'}): its figures are understated`);
    }
    if (r.errors > 0) out.push(`  ${r.server} errors: ${JSON.stringify({ non2xx: r.non2xx, statusCodes: r.statusCodes, connectionErrors: r.connectionErrors, timeouts: r.timeouts })}`);
  }
  out.push('');
  out.push(`machine: ${host.nproc} CPUs (nproc), ${host.cpuModel}, ${host.memoryGb} GB RAM, ${host.os}, node ${host.node}; 1-min load average before the run: ${host.loadAverage1mBefore}`);
  out.push(
    `options: --duration ${opts.duration} --rounds ${opts.rounds} --connections ${opts.connections} --clients ${opts.clients} --alg ${opts.alg} --warmup ${opts.warmup} --samples ${opts.samples} --page-size ${opts.pageSize}${opts.workers > 1 ? ` --workers ${opts.workers}` : ''}${opts.nodes > 1 ? ` --nodes ${opts.nodes}` : ''}${opts.random ? ' --random' : ''}${opts.countingCost ? ' --counting-cost' : ''}${opts.quick ? ' (--quick)' : ''}`,
  );
  out.push(`command: ${output.command}`);
  for (const n of lines) out.push(`- ${n}`);
  out.push(`(${output.elapsedSeconds.toFixed(0)} s in all)`);
  return out.join('\n');
}
