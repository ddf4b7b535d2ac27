// Does a failed client authentication at /oauth/token take the same time whether or not the
// client exists? Starts Portcullis in this process on an embedded in-memory database (or
// DATABASE_URL), listening on loopback only, and sends ROUNDS requests of each kind, one at a
// time over one keep-alive connection:
//
//   known   a known client with a wrong (well-formed) secret
//   unknown one unknown client_id, again and again, with a well-formed secret
//   fresh   a new unknown client_id every time (what an attacker sees on first asking)
//
// known and unknown are interleaved (in a random order each round) so that drift affects both
// alike; fresh ids are sent afterwards, apart, since each is a database read. Prints the
// median and the 90th percentile of each, in milliseconds. The throttles are
// turned off (the limits at their maximum), or nearly every request would be a 429.
//
//   npx tsx bench/auth-timing.ts            (ROUNDS=2000 by default)
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SYSTEM_ACTOR } from '../src/audit/actor.js';
import { generateSecret } from '../src/clients/secret.js';
import { loadConfig } from '../src/config.js';
import { newClientId } from '../src/ids.js';
import { Runtime } from '../src/runtime.js';
import { buildServer } from '../src/server.js';
import { openStore } from '../src/store/connect.js';

const ROUNDS = Math.min(Number(process.env.ROUNDS ?? 2000), 20_000);

const config = loadConfig({
  ISSUER: 'http://127.0.0.1',
  MASTER_KEY: randomBytes(32).toString('base64'),
  LOG_LEVEL: 'silent',
  TOKEN_RATE_LIMIT: '0',
  AUTH_FAILURES_PER_CLIENT: '1000000',
  AUTH_FAILURES_PER_IP: '1000000',
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const store = await openStore(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : { dataDir: 'memory://' });
const runtime = await Runtime.start(config, { store });
const app = await buildServer(runtime);
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as AddressInfo;

const org = await runtime.organizations.create({ name: `Timing ${randomBytes(3).toString('hex')}` }, SYSTEM_ACTOR);
const api = await runtime.catalogService.createApi(
  { identifier: `https://timing-${org.id}.example.com/`, name: `Timing ${org.id}`, permissions: [{ value: 'read', description: 'read' }], access_token_ttl: null },
  SYSTEM_ACTOR,
);
const role = await runtime.catalogService.createRole({ name: `Timing ${org.id}`, description: '', permissions: [{ api: api.identifier, value: 'read' }] }, SYSTEM_ACTOR);
const { client } = await runtime.clients.create(org.id, { name: 'Timing', roles: [role.id] }, SYSTEM_ACTOR);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function tokenRequest(clientId: string, secret: string): Promise<{ status: number; ms: number }> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, audience: api.identifier }).toString();
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/oauth/token', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const unknownId = newClientId();
type Kind = 'known' | 'unknown' | 'fresh';
const kinds: Record<Kind, () => Promise<{ status: number; ms: number }>> = {
  known: () => tokenRequest(client.client_id, generateSecret()),
  unknown: () => tokenRequest(unknownId, generateSecret()),
  fresh: () => tokenRequest(newClientId(), generateSecret()),
};
const times: Record<Kind, number[]> = { known: [], unknown: [], fresh: [] };

async function measure(kind: Kind): Promise<void> {
  const { status, ms } = await kinds[kind]();
  if (status !== 401) throw new Error(`${kind}: expected 401, got ${status}`);
  times[kind].push(ms);
}

// Warm up: the JIT, the connection, the snapshot cache.
for (let i = 0; i < 200; i++) for (const send of Object.values(kinds)) await send();
// known and unknown interleaved, in a random order each round; fresh ids apart, as they read the database.
for (let i = 0; i < ROUNDS; i++) {
  const order: Kind[] = Math.random() < 0.5 ? ['known', 'unknown'] : ['unknown', 'known'];
  for (const kind of order) await measure(kind);
}
for (let i = 0; i < ROUNDS; i++) await measure('fresh');

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
console.log(`${ROUNDS} requests of each kind, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}, loopback, one at a time`);
for (const [kind, list] of Object.entries(times)) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${kind.padEnd(8)} median ${quantile(sorted, 0.5).toFixed(3)} ms   p90 ${quantile(sorted, 0.9).toFixed(3)} ms`);
}

agent.destroy();
await app.close();
await runtime.close();
