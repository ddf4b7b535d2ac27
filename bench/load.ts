// Token requests: single ones (fetch) and the load (autocannon, in this process).
import autocannon from 'autocannon';
import type { BenchClient } from './child-protocol.js';
import { trackLoad } from './cleanup.js';
import type { ServerSpec } from './servers.js';

/** Up to this many clients are used round-robin; above it, a client is drawn at random per request. */
const ROUND_ROBIN_MAX = 1000;

export type Requests = autocannon.Request[];

export function basic(client: BenchClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
}

export function tokenRequest(server: ServerSpec, url: string, client: BenchClient, secret = client.secret): Promise<Response> {
  return fetch(`${url}${server.tokenPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic({ id: client.id, secret }) },
    body: server.body,
  });
}

/** Requests for autocannon: round-robin over the clients, or a random client per request when there are many (or `random`). */
export function loadRequests(server: ServerSpec, clients: BenchClient[], random: boolean): { mode: string; requests: Requests } {
  const headers = clients.map((c) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c) }));
  const body = Buffer.from(server.body);
  if (clients.length <= ROUND_ROBIN_MAX && !random) {
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

export type OnResponse = (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void;

/**
 * The load on `urls`: one autocannon instance per URL (a node of --nodes), each with its share
 * of the connections, all at once; their results added up (durations: the longest).
 */
export async function runLoad(urls: string[], requests: Requests, connections: number, seconds: number, onResponse?: OnResponse): Promise<autocannon.Result> {
  const shares = urls.map((_, i) => Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0));
  const instances = urls.map((url, i) =>
    autocannon({
      url,
      method: 'POST',
      connections: shares[i] as number,
      duration: seconds,
      requests,
      timeout: 10,
    }),
  );
  for (const instance of instances) {
    trackLoad(instance);
    if (onResponse) instance.on('response', onResponse);
  }
  try {
    const results = await Promise.all(instances);
    return results.length === 1 ? (results[0] as autocannon.Result) : combine(results);
  } finally {
    for (const instance of instances) trackLoad(undefined, instance);
  }
}

/** The fields the bench reads, added up over several load generators. */
function combine(results: autocannon.Result[]): autocannon.Result {
  const first = results[0] as autocannon.Result;
  const statusCodeStats: Record<string, { count: number }> = {};
  for (const r of results) {
    for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) statusCodeStats[code] = { count: (statusCodeStats[code]?.count ?? 0) + stat.count };
  }
  const sum = (f: (r: autocannon.Result) => number) => results.reduce((t, r) => t + f(r), 0);
  return {
    ...first,
    '2xx': sum((r) => r['2xx']),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    duration: Math.max(...results.map((r) => r.duration)),
    statusCodeStats: statusCodeStats as autocannon.Result['statusCodeStats'],
  };
}
