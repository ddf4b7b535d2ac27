import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { describeLogLine, describeOutcome, FUZZ_RUNS, FUZZ_SEED, startFuzzTarget, type FuzzTarget, type Outcome } from './harness.js';
import { inputsOf, requestsFor, type RouteInfo } from './requests.js';

/**
 * Property-based fuzzing of every route the app registers (found through Fastify's onRoute,
 * not listed by hand), with requests drawn from each route's own schemas and from hostile
 * value sets, authenticated in every way the server knows (session cookie + CSRF token,
 * management bearer token, client Basic credentials) and in broken ways. For every request:
 * no 5xx, the contract's error family and shape, nothing logged at error level, and a
 * refused unsafe request changes nothing in the database.
 *
 * FUZZ_SEED (default fixed) and FUZZ_RUNS (runs per route and method) size a run; FUZZ_ROUTE
 * (a substring of "METHOD /url") narrows it to some routes. FUZZ_FINDINGS=<file> writes every
 * distinct failure class to <file> (JSON) instead of stopping at the first per route.
 * A failure prints the request fast-check shrank it to, and how to replay it (FUZZ_ROUTE and
 * FUZZ_REPLAY=<seed>:<path>).
 */

const ROUTE_FILTER = process.env.FUZZ_ROUTE;
const FINDINGS_FILE = process.env.FUZZ_FINDINGS;
/** `<seed>:<path>` from a failure report: replays that counterexample (with FUZZ_ROUTE naming its route). */
const REPLAY = /^(-?\d+):(.+)$/.exec(process.env.FUZZ_REPLAY ?? '');

class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

interface Finding {
  route: string;
  key: string;
  count: number;
  example: string;
  size: number;
}

/** What makes two failures the same: the route, the status, the error logged (its variable parts elided) or the broken rule. */
function classOf(route: RouteInfo, o: Outcome): string {
  const logged = o.errors.map((e) =>
    describeLogLine(e)
      .replace(/"[^"]*"/g, '"…"')
      .replace(/0x[0-9a-f]+/gi, '0x…'),
  );
  return `${o.wire.method} ${route.url} → ${o.status} | ${logged.join(' | ') || o.problems.join(' | ')}`;
}

/** Requests for the methods a URL does not have: the API's own 404 (or a 400 for a request too broken to route). */
function unroutedFor(routes: RouteInfo[]): RouteInfo[] {
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const byUrl = new Map<string, Set<string>>();
  for (const r of routes) byUrl.set(r.url, (byUrl.get(r.url) ?? new Set()).add(r.method));
  const out: RouteInfo[] = [];
  for (const [url, has] of byUrl) {
    // GET and HEAD of any path belong to the web app's catch-all, which the discovered routes cover.
    const missing = methods.filter((m) => !has.has(m) && m !== 'GET' && m !== 'HEAD');
    const [first] = missing;
    if (first && url !== '/*') out.push({ method: first, methods: missing, url, oauth: false, access: undefined, schema: {} });
  }
  return out;
}

/**
 * Runs per route: FUZZ_RUNS for one that takes inputs (parameters, a query, a body, credentials),
 * up to twice that for one with many (a body of six fields); half for HEAD (GET's handler again);
 * a quarter for fixed pages and wrong methods.
 */
function runsFor(route: RouteInfo): number {
  const takesInputs = inputsOf(route) > 0 || route.oauth || (route.access !== undefined && !('public' in route.access));
  if (route.methods || !takesInputs) return Math.max(1, Math.ceil(FUZZ_RUNS / 4));
  const runs = Math.ceil(FUZZ_RUNS * Math.min(2, Math.max(1, inputsOf(route) / 3)));
  return route.method === 'HEAD' ? Math.ceil(runs / 2) : runs;
}

describe.each(testDatabases())('fuzz: every route on $name', (db) => {
  let t: FuzzTarget;
  beforeAll(async () => {
    t = await startFuzzTarget(db);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await db.dispose();
  });

  it('discovers every operation of the OpenAPI document among the routes it fuzzes', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => ['get', 'head', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    const discovered = new Set(t.routes.map((r) => `${r.method} ${r.url}`));
    expect(operations.length).toBeGreaterThan(40);
    expect(operations.filter((o) => !discovered.has(o))).toEqual([]);
  });

  it('answers every generated request within the contract', async () => {
    const started = performance.now();
    const routes = [...t.routes, ...unroutedFor(t.routes)].filter((r) => !ROUTE_FILTER || `${r.method} ${r.url}`.includes(ROUTE_FILTER));
    expect(t.routes.length).toBeGreaterThan(60);
    const failures: string[] = [];
    const findings = new Map<string, Finding>();
    let generated = 0;

    for (const [i, route] of routes.entries()) {
      const requests = requestsFor(route);
      const seed = REPLAY ? Number(REPLAY[1]) : FUZZ_SEED + i;
      const property = fc.asyncProperty(requests, async (req) => {
        const o = await t.send(route, req);
        if (o.problems.length === 0) return;
        const report = describeOutcome(route, o);
        if (!FINDINGS_FILE) throw new FuzzFailure(report);
        const key = classOf(route, o);
        const seen = findings.get(key);
        const size = report.length;
        if (!seen) findings.set(key, { route: `${o.wire.method} ${route.url}`, key, count: 1, example: report, size });
        else {
          seen.count++;
          if (size < seen.size) Object.assign(seen, { example: report, size });
        }
      });
      const details = await fc.check(property, { seed, numRuns: runsFor(route), ...(REPLAY ? { path: REPLAY[2] } : {}) });
      generated += details.numRuns;
      if (details.failed) {
        const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        const name = `${route.methods?.join('|') ?? route.method} ${route.url}`;
        failures.push(
          `${name}: run ${details.numRuns}, shrunk ${details.numShrinks} times; replay: FUZZ_ROUTE='${route.method} ${route.url}' FUZZ_REPLAY='${seed}:${details.counterexamplePath}'\n${error}`,
        );
      }
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `fuzz: ${t.sent} requests on ${db.name} (${generated} generated + ${t.sent - generated} tried while shrinking; ${routes.length} routes and methods (${t.routes.length} registered, the rest methods a URL does not have), ${FUZZ_RUNS} runs for a route that takes inputs, up to twice that for many inputs, half for HEAD, a quarter for the others; seed ${FUZZ_SEED}; ${seconds} s)`,
    );
    if (FINDINGS_FILE) {
      const file = FINDINGS_FILE.replace('{db}', db.name);
      fs.writeFileSync(
        file,
        JSON.stringify(
          [...findings.values()].sort((a, b) => a.key.localeCompare(b.key)),
          null,
          2,
        ),
      );
      console.log(`fuzz: ${findings.size} failure classes on ${db.name} written to ${file}`);
    }
    expect(failures, `${failures.length} routes answered outside the contract:\n\n${failures.join('\n\n')}`).toEqual([]);
  }, 600_000);
});
