// `npm run bench`: token issuance (POST /oauth/token, client credentials, client_secret_basic)
// of Portcullis, of node-oidc-provider and of a reference server (the practical limit: only
// the framework, an HMAC check and a signature), side by side in one run, on loopback.
// See docs/performance.md for the method and what the figures mean.
import { buildChildren } from './child-build.js';
import { installCleanup, killAll, trackTempDir } from './cleanup.js';
import { machine } from './host.js';
import { measureListing } from './listing.js';
import { log } from './log.js';
import { measureSlice, prepare, summarize, warmUp, type Measurement } from './measure.js';
import { parseOptions, type ServerKey } from './options.js';
import { readProcStatus } from './proc.js';
import { distBuilt, secretGenerator } from './provision.js';
import { commandLine, fmt, formatText, notes, targets, type Output, type Result } from './report.js';
import { serverSpecs } from './servers.js';
import { startServerUnderTest, type ServerUnderTest } from './spawn.js';
import { verifySample } from './verify.js';

const { opts, args } = parseOptions();
if (!distBuilt()) {
  console.error('dist/ is missing: run `npm run build` first (`npm run bench` does).');
  process.exit(2);
}
const portcullisSecret = await secretGenerator();
installCleanup(log);

interface Prepared {
  running: ServerUnderTest;
  rssAtReadyMb: number;
  m: Measurement;
}

async function main(): Promise<number> {
  const started = Date.now();
  const host = machine();
  const childDir = await buildChildren();
  trackTempDir(childDir);
  // Portcullis with counting off runs with --counting-cost (which --only portcullis keeps).
  const servers = serverSpecs(portcullisSecret).filter((s) => (s.key === 'portcullis-counting-off' ? opts.countingCost : opts.only === undefined || s.key === opts.only));
  const results: Result[] = [];
  const resultOf = new Map<ServerKey, Result>();
  // Every server is started first, then warmed up, one after the other; then the measured slices take turns.
  const prepared: Prepared[] = [];
  const stops: (() => Promise<void>)[] = [];
  try {
    for (const server of servers) {
      log(`${server.name}: starting, provisioning ${fmt(opts.clients)} clients`);
      const running = await startServerUnderTest(server, opts, childDir);
      stops.push(running.stop);
      log(`  ${running.info.url}, ${running.info.database}`);
      const rssAtReadyMb = running.info.rssAtReadyMb ?? [running.child.pid ?? NaN, ...(running.info.workerPids ?? [])].reduce((t, p) => t + readProcStatus(p).rssKb, 0) / 1024;
      prepared.push({ running, rssAtReadyMb, m: await prepare(server, running, opts) });
    }
    for (const { m } of prepared) await warmUp(m, opts);
    const slices = Array.from({ length: opts.rounds }, (_, i) => Math.floor(opts.duration / opts.rounds) + (i < opts.duration % opts.rounds ? 1 : 0));
    log(`measuring ${opts.duration} s per server at ${opts.connections} connections (${prepared[0]?.m.mode}), in ${opts.rounds} rounds taking turns`);
    for (const [round, seconds] of slices.entries()) {
      // The same order every round: each server then waits the same time (the others' slices)
      // between its own. Alternating who goes first made the first and last servers wait twice
      // as long every other round (about 16 s with four servers), and a V8 heap idle that long
      // shrinks its young generation when the load comes back (docs/performance.md, Results).
      const line: string[] = [];
      for (const { m } of prepared) line.push(`${m.server.name} ${fmt(await measureSlice(m, seconds))}`);
      log(`  round ${round + 1}/${opts.rounds} (${seconds} s each): ${line.join(', ')} tokens/s`);
    }
    for (const { running, m, rssAtReadyMb } of prepared) {
      const measured = summarize(m);
      log(`${m.server.name}: verifying ${opts.samples} tokens`);
      const verification = await verifySample(m.server, running.info, opts.samples, opts.alg);
      const result: Result = { server: m.server.name, database: running.info.database, provisioning: running.info.provisioning, rssAtReadyMb, ...measured, verification };
      if (m.server.key === 'portcullis') {
        // A second for what the load left behind (the last usage flush, a garbage collection) to finish.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        log(`${m.server.name}: listing the organization's ${fmt(running.info.clients.length + 1)} clients page by page (limit ${opts.pageSize})`);
        result.listing = await measureListing(running.info, opts.pageSize);
      }
      results.push(result);
      resultOf.set(m.server.key, result);
      log(`  ${fmt(measured.tokensPerSecond)} tokens/s, ${verification.ok ? 'tokens valid' : 'INVALID TOKENS'}`);
    }
  } finally {
    for (const stop of stops) await stop();
  }

  const portcullis = resultOf.get('portcullis');
  const [ratio, roundRatios] = ratios(portcullis, resultOf.get('oidc-provider'));
  const [referenceRatio, referenceRoundRatios] = ratios(portcullis, resultOf.get('reference'));
  const [countingRatio, countingRoundRatios] = ratios(portcullis, resultOf.get('portcullis-counting-off'));

  const allValid = results.every((r) => r.verification.ok && (r.listing?.ok ?? true));
  const output: Output = {
    command: commandLine(opts, args),
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
      nodes: opts.nodes,
      quick: opts.quick,
      countingCost: opts.countingCost,
    },
    machine: host,
    results,
    ratio,
    roundRatios,
    referenceRatio,
    referenceRoundRatios,
    countingRatio,
    countingRoundRatios,
    targets: targets(portcullis, ratio, referenceRatio, countingRatio),
    allTokensValid: allValid,
    notes: notes(results, opts, host),
    elapsedSeconds: (Date.now() - started) / 1000,
  };
  console.log(opts.json ? JSON.stringify(output, null, 2) : formatText(output, opts));
  return allValid ? 0 : 1;
}

/** a's tokens/s over b's: over all rounds, and within each round (how much the machine's drift moved it). */
function ratios(a: Result | undefined, b: Result | undefined): [overall: number | undefined, byRound: number[]] {
  if (!a || !b) return [undefined, []];
  return [a.tokensPerSecond / b.tokensPerSecond, a.tokensPerSecondByRound.map((p, i) => p / (b.tokensPerSecondByRound[i] ?? NaN))];
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`bench failed: ${(err as Error | undefined)?.stack ?? err}`);
    killAll();
    process.exit(1);
  },
);
