// The command line of `npm run bench`: usage text, parsing and validation.
import { parseArgs } from 'node:util';
import { ALGS, type Alg } from './constants.js';
import { hostCpus } from './host.js';

export const USAGE = `Usage: npm run bench -- [options]

  --duration <s>      measured seconds per server (default 10; 3 with --quick)
  --rounds <n>        split them into n slices, the servers taking turns, so that a machine
                      whose speed drifts during the run treats both alike (default 5; 3 with --quick)
  --connections <n>   concurrent connections (default 50)
  --clients <n>       clients provisioned and used (default 10; e.g. 100000 for the data-scale check)
  --alg <alg>         signing algorithm: ES256 (default), RS256, EdDSA
  --warmup <s>        unmeasured load before each measured run (default 2; 1 with --quick)
  --samples <n>       tokens fetched and verified after each run (default 20)
  --page-size <n>     clients per page when listing the organization (default 50, the API's default)
  --only <server>     portcullis, oidc-provider or reference (default: all three, side by side)
  --counting-cost     also run "Portcullis, counting off": the same server with its usage counter's
                      issued() and failed() replaced by no-ops, and print Portcullis / it, the
                      throughput usage counting costs (with --only, only with --only portcullis)
  --workers <n>       Portcullis server processes sharing the port, as WORKERS (default: as many
                      as CPUs with DATABASE_URL, as an operator would run it; 1 embedded, which
                      serves one process; with --nodes, 1 per node)
  --nodes <n>         n Portcullis processes on n ports on one PostgreSQL database (needs
                      DATABASE_URL; REDIS_URL is passed through when set), the load spread
                      round-robin over them by n load generators
  --random            draw a client at random for every request even with few clients (the mode
                      used above 1000), to compare client counts with the same load generator work
  --quick             a short run (3 s per server), well under a minute in all
  --json              print the results as JSON
  -h, --help          this text

Portcullis uses the embedded database, or PostgreSQL when DATABASE_URL is set
(a throwaway database is created on that server and dropped afterwards).`;

/** The servers --only chooses from. */
const ONLY_KEYS = ['portcullis', 'oidc-provider', 'reference'] as const;
type OnlyKey = (typeof ONLY_KEYS)[number];
/** Every server a run may start: those of --only, and Portcullis with usage counting off (--counting-cost). */
export type ServerKey = OnlyKey | 'portcullis-counting-off';

const OPTIONS = {
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
  nodes: { type: 'string' },
  'counting-cost': { type: 'boolean', default: false },
  quick: { type: 'boolean', default: false },
  random: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const parse = (argv: string[]) => parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
/** The options as given, for echoing the command line back. */
export type RawArgs = ReturnType<typeof parse>;

export interface Options {
  duration: number;
  connections: number;
  clients: number;
  alg: Alg;
  rounds: number;
  pageSize: number;
  warmup: number;
  samples: number;
  workers: number;
  nodes: number;
  quick: boolean;
  random: boolean;
  json: boolean;
  only: OnlyKey | undefined;
  /** --counting-cost: Portcullis with usage counting off runs too. */
  countingCost: boolean;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function positiveInt(name: string, raw: string, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(String(raw)) || n < min || n > max) {
    fail(`--${name}: an integer from ${min} to ${max} expected, got ${JSON.stringify(raw)}\n\n${USAGE}`);
  }
  return n;
}

const isAlg = (s: string): s is Alg => (ALGS as readonly string[]).includes(s);
const isOnlyKey = (s: string): s is OnlyKey => (ONLY_KEYS as readonly string[]).includes(s);

/** Parses `argv`; prints the usage and exits on --help (0) or on a bad option (2). */
export function parseOptions(argv: string[] = process.argv.slice(2)): { opts: Options; args: RawArgs } {
  let args: RawArgs;
  try {
    args = parse(argv);
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const alg = args.alg ?? 'ES256';
  const only = args.only;
  const opts: Options = {
    duration: positiveInt('duration', args.duration ?? (args.quick ? '3' : '10'), { max: 3600 }),
    connections: positiveInt('connections', args.connections ?? '50', { max: 10_000 }),
    clients: positiveInt('clients', args.clients ?? '10', { max: 10_000_000 }),
    alg: alg as Alg, // checked below, in the order the checks have always run
    rounds: positiveInt('rounds', args.rounds ?? (args.quick ? '3' : '5'), { max: 1000 }),
    pageSize: positiveInt('page-size', args['page-size'] ?? '50', { max: 200 }),
    warmup: positiveInt('warmup', args.warmup ?? (args.quick ? '1' : '2'), { min: 0, max: 600 }),
    samples: positiveInt('samples', args.samples ?? '20', { max: 10_000 }),
    workers: positiveInt('workers', args.workers ?? (process.env.DATABASE_URL && !args.nodes ? String(hostCpus) : '1'), { max: 64 }),
    nodes: positiveInt('nodes', args.nodes ?? '1', { max: 16 }),
    quick: args.quick,
    random: args.random,
    json: args.json,
    only: only as OnlyKey | undefined,
    countingCost: args['counting-cost'],
  };
  if (opts.rounds > opts.duration) {
    fail(`--rounds: at most --duration (${opts.duration}): every slice lasts whole seconds`);
  }
  if (!isAlg(alg)) {
    fail(`--alg: one of ${ALGS.join(', ')} expected, got ${JSON.stringify(alg)}`);
  }
  if (only !== undefined && !isOnlyKey(only)) {
    fail(`--only: one of ${ONLY_KEYS.join(', ')} expected, got ${JSON.stringify(only)}`);
  }
  if (opts.countingCost && only !== undefined && only !== 'portcullis') {
    fail('--counting-cost: compares Portcullis with itself, counting off; with --only, only with --only portcullis');
  }
  if (opts.workers > 1 && !process.env.DATABASE_URL) {
    fail('--workers: more than one Portcullis process needs DATABASE_URL (the embedded database serves one process)');
  }
  if (opts.nodes > 1 && !process.env.DATABASE_URL) {
    fail('--nodes: several Portcullis nodes need DATABASE_URL (one PostgreSQL database they share)');
  }
  if (opts.nodes > opts.connections) {
    fail(`--nodes: at most --connections (${opts.connections}): every node gets its share of the connections`);
  }
  return { opts, args };
}
