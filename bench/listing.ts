// The management API's listing of a large organization, page by page (Portcullis only).
import { basic } from './load.js';
import type { ServerInfo } from './spawn.js';
import { percentile } from './stats.js';

/** Listing: pages fetched at least (whole passes repeated), passes at most, pages per pass at most. */
const LIST_MIN_PAGES = 400;
const LIST_MAX_PASSES = 400;
const LIST_MAX_PAGES = 2000;

export interface Listing {
  pageSize: number;
  organizationClients: number;
  pagesPerPass: number | undefined;
  passes: number;
  pages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  problems: string[];
  ok: boolean;
}

interface Page {
  data: { client_id: string }[];
  next_cursor: string | null | undefined;
}

/**
 * Lists the bench organization's clients page by page through the management API
 * (`GET /api/v1/organizations/{org}/clients?limit=…&cursor=…`), one request at a time, as the
 * organization's automation would, with a token of its client-reader client. Whole passes are
 * repeated until at least LIST_MIN_PAGES pages were fetched (LIST_MAX_PASSES at most), or a
 * pass stops at LIST_MAX_PAGES. Checks that the first pass saw every client exactly once.
 */
export async function measureListing(info: ServerInfo, pageSize: number): Promise<Listing> {
  if (!info.lister || info.orgId === undefined) throw new Error('Portcullis: the provision phase reported no lister');
  const tokenRes = await fetch(`${info.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(info.lister) },
    body: `grant_type=client_credentials&audience=${encodeURIComponent(`${info.issuer}/api/v1/`)}`,
  });
  if (tokenRes.status !== 200) throw new Error(`Portcullis: the lister's token request answered ${tokenRes.status}: ${await tokenRes.text()}`);
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const expected = info.clients.length + 1; // and the lister itself
  const times: number[] = [];
  let passes = 0;
  let firstPass: { pages: number; clients: number; complete: boolean } | undefined;
  const problems: string[] = [];
  while (times.length < LIST_MIN_PAGES && passes < LIST_MAX_PASSES) {
    passes++;
    const seen = new Set<string>();
    let cursor: string | null | undefined = null;
    do {
      const url = `${info.url}/api/v1/organizations/${encodeURIComponent(info.orgId)}/clients?limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const t0 = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`Portcullis: listing answered ${res.status}: ${text.slice(0, 300)}`);
      const page = JSON.parse(text) as Page;
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
    pageSize,
    organizationClients: expected,
    pagesPerPass: firstPass?.complete ? firstPass.pages : undefined,
    passes,
    pages: times.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    problems,
    ok: problems.length === 0,
  };
}
