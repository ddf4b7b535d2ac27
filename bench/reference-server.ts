// The practical limit of the job on this machine: the same framework (Fastify), form parsing
// (@fastify/formbody), client_secret_basic parsing, an HMAC check of the secret against an
// in-memory map, and a node:crypto signature of an RFC 9068-shaped JWT; nothing else (no
// database, no rate limit, no audience or scope rules, no usage counting). It runs in as many
// processes as the machine has CPUs (node:cluster), as a server built only for this would.
// The bench prints Portcullis' throughput as a fraction of it.
//
// Environment (from the parent): BENCH_PORT, BENCH_ALG, BENCH_CLIENTS, BENCH_AUDIENCE.
// The primary hands its workers BENCH_REF_SEED (from which every client's secret and the
// HMAC pepper derive) and BENCH_REF_KEY (the signing key, PKCS#8 PEM).
import cluster from 'node:cluster';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import os from 'node:os';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { report, runChild, type BenchClient } from './child-protocol.js';
import { AUDIENCE, SCOPE } from './constants.js';

const env = process.env;
const port = Number(env.BENCH_PORT ?? 0);
const alg = env.BENCH_ALG ?? 'ES256';
const clientCount = Number(env.BENCH_CLIENTS ?? 10);
const audience = env.BENCH_AUDIENCE ?? AUDIENCE;
const issuer = `http://127.0.0.1:${port}`;
const KID = `reference-${alg.toLowerCase()}`;

function clientsOf(seed: string): BenchClient[] {
  return Array.from({ length: clientCount }, (_, i) => {
    const id = `reference-client-${i}`;
    return { id, secret: createHmac('sha256', seed).update(id).digest('base64url') };
  });
}

function generateKey(): KeyObject {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (alg === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519').privateKey;
  throw new Error(`unsupported alg ${alg}`);
}

/** A worker: the token endpoint, and the metadata and JWKS the bench verifies tokens with. */
async function serveWorker(): Promise<void> {
  const seed = env.BENCH_REF_SEED ?? '';
  const key = createPrivateKey(env.BENCH_REF_KEY ?? '');
  const pepper = createHmac('sha256', seed).update('pepper').digest();
  const hashOf = (secret: string) => createHmac('sha256', pepper).update(secret).digest();
  const hashes = new Map(clientsOf(seed).map((c) => [c.id, hashOf(c.secret)]));
  const jwk = { ...createPublicKey(key).export({ format: 'jwk' }), kid: KID, alg, use: 'sig' };
  const header = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt', kid: KID })).toString('base64url');
  const signOptions = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  const digest = alg === 'EdDSA' ? null : 'sha256';

  const app = Fastify({ logger: false });
  await app.register(formbody);
  const refuse = { error: 'invalid_client' };
  app.post('/token', async (request, reply) => {
    const auth = request.headers.authorization ?? '';
    const pair = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
    const colon = pair.indexOf(':');
    const id = decodeURIComponent(pair.slice(0, colon));
    const expected = colon > 0 ? hashes.get(id) : undefined;
    if (!expected || !timingSafeEqual(expected, hashOf(decodeURIComponent(pair.slice(colon + 1))))) {
      return reply.code(401).header('www-authenticate', 'Basic realm="reference"').header('cache-control', 'no-store').send(refuse);
    }
    if ((request.body as { grant_type?: string } | undefined)?.grant_type !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
    const iat = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ iss: issuer, sub: id, aud: audience, client_id: id, scope: SCOPE, iat, exp: iat + 3600, jti: randomUUID() })).toString('base64url');
    const input = `${header}.${payload}`;
    const signature = sign(digest, Buffer.from(input), signOptions).toString('base64url');
    return reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .send({ access_token: `${input}.${signature}`, token_type: 'Bearer', expires_in: 3600, scope: SCOPE });
  });
  app.get('/.well-known/openid-configuration', async () => ({ issuer, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }));
  app.get('/jwks', async () => ({ keys: [jwk] }));
  await app.listen({ port, host: '127.0.0.1' });
  process.send?.({ type: 'listening' });
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const seed = randomBytes(32).toString('hex');
  const pem = generateKey().export({ format: 'pem', type: 'pkcs8' }).toString();
  const count = os.availableParallelism();
  const pids = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = cluster.fork({ ...env, BENCH_REF_SEED: seed, BENCH_REF_KEY: pem });
          worker.on('message', (m: { type?: string } | undefined) => {
            if (m?.type === 'listening') resolve(worker.process.pid ?? NaN);
          });
          worker.once('exit', (code: number) => reject(new Error(`reference worker exited (${code}) before listening`)));
        }),
    ),
  );
  report({
    type: 'ready',
    url: issuer,
    issuer,
    audience,
    database: `none (an in-memory map; ${count} processes, node:cluster)`,
    clients: clientsOf(seed),
    workerPids: pids,
    rssAtReadyMb: undefined,
    provisioning: { static: clientCount },
  });
}

let stopping: Promise<void> | undefined;
function stop(code = 0): Promise<void> {
  stopping ??= (async () => {
    setTimeout(() => process.exit(code), 5000).unref();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(code);
  })();
  return stopping;
}

if (cluster.isWorker) void serveWorker();
else runChild(main, stop);
