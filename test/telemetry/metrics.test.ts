import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

/** One scrape, as a map from `name{sorted labels}` to value. */
type Scrape = Map<string, number>;

function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

function parse(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = JSON.parse(`"${v}"`) as string;
    out.set(seriesKey(m[1] as string, labels), Number(m[3]));
  }
  return out;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(testDatabases())('Prometheus metrics on $name', (db) => {
  let p: TestPortcullis;
  // A small cache (to see capacity evictions), a low failure limit and a low rate limit.
  usePortcullis(db, (started) => (p = started), { env: { GRANT_CACHE_SIZE: '2', AUTH_FAILURES_PER_CLIENT: '3', TOKEN_RATE_LIMIT: '8' } });

  async function scrape(): Promise<Scrape> {
    const res = await p.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    return parse(res.body);
  }

  /** How much each named series moved between two scrapes (a series absent before counts from 0). */
  function delta(before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number {
    const key = seriesKey(name, labels);
    expect(after.has(key), `${key} is exposed`).toBe(true);
    return (after.get(key) ?? 0) - (before.get(key) ?? 0);
  }

  it('labels the build and reports the pool', async () => {
    const m = await scrape();
    expect(m.get(seriesKey('portcullis_build_info', { version: '0.1.0', node_version: process.version }))).toBe(1);
    expect(m.get('portcullis_db_pool_max_connections')).toBe(db.name === 'postgres' ? 4 : 1);
    const total = m.get('portcullis_db_pool_connections') ?? -1;
    const idle = m.get('portcullis_db_pool_idle_connections') ?? -1;
    expect(total).toBeGreaterThanOrEqual(1);
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThanOrEqual(total);
    expect(m.get('portcullis_db_pool_waiting_requests')).toBe(0);
    expect(m.get(seriesKey('portcullis_throttle_refusals_total', { throttle: 'sign-in' }))).toBe(0);
  });

  it('counts an issued token, its signature, its request time by route pattern, and the cache miss then hit', async () => {
    const c = await seedClient(p.runtime);
    const before = await scrape();
    expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
    const first = await scrape();
    expect(delta(before, first, 'portcullis_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(1);
    expect(delta(before, first, 'portcullis_grant_cache_misses_total')).toBe(1);
    expect(delta(before, first, 'portcullis_grant_cache_hits_total')).toBe(0);
    expect(delta(before, first, 'portcullis_http_requests_total', { route: '/oauth/token', method: 'POST', status: '200' })).toBe(1);
    expect(delta(before, first, 'portcullis_http_request_duration_seconds_count', { route: '/oauth/token', method: 'POST', status_class: '2xx' })).toBe(1);
    expect(delta(before, first, 'portcullis_http_request_duration_seconds_bucket', { route: '/oauth/token', method: 'POST', status_class: '2xx', le: '+Inf' })).toBe(1);
    // SIGNING_THREADS defaults to 1: signed on the thread.
    expect(delta(before, first, 'portcullis_token_signing_duration_seconds_count', { mode: 'thread' })).toBe(1);
    // The miss read the client from the database.
    expect(delta(before, first, 'portcullis_db_query_duration_seconds_count', { operation: 'select' })).toBeGreaterThanOrEqual(1);

    expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
    const second = await scrape();
    expect(delta(first, second, 'portcullis_grant_cache_hits_total')).toBe(1);
    expect(delta(first, second, 'portcullis_grant_cache_misses_total')).toBe(0);
    expect(delta(first, second, 'portcullis_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(1);
  });

  it('counts refusals by grant type and OAuth error code, made-up grant types as other', async () => {
    const c = await seedClient(p.runtime);
    const before = await scrape();
    expect((await tokenRequest(p.app, { clientId: c.clientId, secret: tampered(c.secret) }, { audience: c.apiIdentifier })).statusCode).toBe(401);
    expect((await tokenRequest(p.app, c, { grant_type: 'password', audience: c.apiIdentifier })).statusCode).toBe(400);
    expect((await tokenRequest(p.app, c, { audience: 'https://no-such-api.example.com/' })).statusCode).toBe(400);
    const after = await scrape();
    expect(delta(before, after, 'portcullis_tokens_refused_total', { grant_type: 'client_credentials', error: 'invalid_client' })).toBe(1);
    expect(delta(before, after, 'portcullis_tokens_refused_total', { grant_type: 'other', error: 'unsupported_grant_type' })).toBe(1);
    expect(delta(before, after, 'portcullis_tokens_refused_total', { grant_type: 'client_credentials', error: 'invalid_target' })).toBe(1);
    expect(delta(before, after, 'portcullis_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(0);
    expect(delta(before, after, 'portcullis_http_request_duration_seconds_count', { route: '/oauth/token', method: 'POST', status_class: '4xx' })).toBe(3);
    expect([...after.keys()].some((k) => k.includes('grant_type="password"'))).toBe(false);
  });

  it('counts a refresh, and a refresh token presented twice as a reuse', async () => {
    const c = await seedClient(p.runtime, { refreshTokens: true });
    const issued = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(issued.statusCode).toBe(200);
    const refreshToken = issued.json().refresh_token as string;
    const refresh = () =>
      p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(c.clientId, c.secret) },
        payload: form({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      });
    const before = await scrape();
    expect((await refresh()).statusCode).toBe(200);
    const refreshed = await scrape();
    expect(delta(before, refreshed, 'portcullis_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    expect(delta(before, refreshed, 'portcullis_refresh_token_reuse_detected_total')).toBe(0);
    expect((await refresh()).statusCode).toBe(400);
    const reused = await scrape();
    expect(delta(refreshed, reused, 'portcullis_refresh_token_reuse_detected_total')).toBe(1);
    expect(delta(refreshed, reused, 'portcullis_tokens_refused_total', { grant_type: 'refresh_token', error: 'invalid_grant' })).toBe(1);
    // The reuse was handled in a transaction: writes were timed.
    expect(delta(refreshed, reused, 'portcullis_db_query_duration_seconds_count', { operation: 'update' })).toBeGreaterThanOrEqual(1);
  });

  it('counts introspection answers by active', async () => {
    const c = await seedClient(p.runtime);
    const token = (await tokenRequest(p.app, c, { audience: c.apiIdentifier })).json().access_token as string;
    const introspect = (t: string) => p.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...FORM, authorization: basic(c.clientId, c.secret) }, payload: form({ token: t }) });
    const before = await scrape();
    expect((await introspect(token)).json()).toMatchObject({ active: true });
    expect((await introspect(token)).json()).toMatchObject({ active: true });
    expect((await introspect('not-a-token')).json()).toEqual({ active: false });
    const after = await scrape();
    expect(delta(before, after, 'portcullis_introspections_total', { active: 'true' })).toBe(2);
    expect(delta(before, after, 'portcullis_introspections_total', { active: 'false' })).toBe(1);
  });

  it('counts cache evictions by change and by capacity', async () => {
    const a = await seedClient(p.runtime);
    const b = await seedClient(p.runtime);
    const d = await seedClient(p.runtime);
    expect((await tokenRequest(p.app, a, { audience: a.apiIdentifier })).statusCode).toBe(200);
    const before = await scrape();
    await p.runtime.clients.update(a.orgId, a.clientId, { name: 'renamed' }, SYSTEM_ACTOR);
    const changed = await scrape();
    expect(delta(before, changed, 'portcullis_grant_cache_evictions_total', { reason: 'changed' })).toBe(1);
    // GRANT_CACHE_SIZE=2: the third client pushes the least recently used one out.
    for (const c of [a, b, d]) expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
    const full = await scrape();
    expect(delta(changed, full, 'portcullis_grant_cache_evictions_total', { reason: 'capacity' })).toBeGreaterThanOrEqual(1);
    expect(full.get('portcullis_grant_cache_entries')).toBe(2);
    expect(delta(changed, full, 'portcullis_grant_cache_evictions_total', { reason: 'expired' })).toBe(0);
  });

  it('counts failure-throttle and rate-limit refusals', async () => {
    const c = await seedClient(p.runtime);
    const wrong = { clientId: c.clientId, secret: tampered(c.secret) };
    const before = await scrape();
    // AUTH_FAILURES_PER_CLIENT=3: the fourth attempt from that address is refused unseen.
    for (let i = 0; i < 3; i++) expect((await tokenRequest(p.app, wrong, { audience: c.apiIdentifier }, { remoteAddress: '198.51.100.7' })).statusCode).toBe(401);
    expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: '198.51.100.7' })).statusCode).toBe(429);
    const throttled = await scrape();
    expect(delta(before, throttled, 'portcullis_throttle_refusals_total', { throttle: 'client-auth' })).toBe(1);
    expect(delta(before, throttled, 'portcullis_tokens_refused_total', { grant_type: 'client_credentials', error: 'too_many_requests' })).toBe(1);
    expect(delta(before, throttled, 'portcullis_rate_limit_refusals_total', { limit: 'token' })).toBe(0);
    // TOKEN_RATE_LIMIT=8 per client and address per minute: the ninth is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push((await tokenRequest(p.app, c, { audience: c.apiIdentifier }, { remoteAddress: '198.51.100.8' })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    const limited = await scrape();
    expect(delta(throttled, limited, 'portcullis_rate_limit_refusals_total', { limit: 'token' })).toBe(1);
    expect(delta(throttled, limited, 'portcullis_throttle_refusals_total', { throttle: 'client-auth' })).toBe(0);
  });

  it('labels requests by route pattern, never by raw URL', async () => {
    const before = await scrape();
    const unknownOrg = await p.app.inject({ method: 'GET', url: '/api/v1/organizations/org_doesnotexist123' });
    expect(unknownOrg.statusCode).toBe(401);
    expect((await p.app.inject({ method: 'GET', url: '/no/such/path/x1y2z3' })).statusCode).toBe(404);
    const after = await scrape();
    expect(delta(before, after, 'portcullis_http_request_duration_seconds_count', { route: '/api/v1/organizations/:org', method: 'GET', status_class: '4xx' })).toBe(1);
    expect(delta(before, after, 'portcullis_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect([...after.keys()].some((k) => k.includes('doesnotexist') || k.includes('x1y2z3'))).toBe(false);
  });

  it('exposes every metric the Grafana dashboard and the operator guide name', async () => {
    // Every registered metric has its TYPE line, observed yet or not.
    const text = (await p.app.inject({ method: 'GET', url: '/metrics' })).body;
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map(([, n]) => n as string));
    const named = (text: string) => new Set([...text.matchAll(/portcullis_[a-z_]+/g)].map(([n]) => n.replace(/_(bucket|count|sum)$/, '')));
    const dashboard = named(fs.readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'));
    const guide = named(fs.readFileSync(new URL('../../docs/operator-guide.md', import.meta.url), 'utf8'));
    expect(dashboard.size).toBeGreaterThan(15);
    expect([...dashboard].filter((n) => !exposed.has(n))).toEqual([]);
    // Cookie names, and the Redis metrics that exist only with REDIS_URL (this app has none).
    const notMetrics = new Set(['portcullis_session', 'portcullis_signed_in', 'portcullis_redis_up', 'portcullis_redis_fallbacks_total']);
    expect([...guide].filter((n) => !exposed.has(n) && !notMetrics.has(n))).toEqual([]);
    // And the guide's table lists every one of ours.
    expect([...exposed].filter((n) => n.startsWith('portcullis_') && !guide.has(n))).toEqual([]);
  });

  it('reports the age of the signing key in use, computed when scraped', async () => {
    const first = (await scrape()).get('portcullis_signing_key_age_seconds') ?? -1;
    expect(first).toBeGreaterThanOrEqual(0);
    p.clock.advance(3600);
    expect((await scrape()).get('portcullis_signing_key_age_seconds')).toBe(first + 3600);
  });
});
