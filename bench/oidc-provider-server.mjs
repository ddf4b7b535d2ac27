// The peer under benchmark: node-oidc-provider v9, configured for the job Portcullis does
// (client credentials, client_secret_basic, RFC 9068 JWT access tokens for one resource
// server through the resource indicators feature, the same signing algorithm), as a child
// process started by bench/run.mjs. Its clients are static configuration and its artefacts
// live in the provider's default in-memory adapter: it persists nothing.
//
// Environment (from the parent): BENCH_PORT, BENCH_ALG, BENCH_CLIENTS, BENCH_AUDIENCE.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { runChild } from './child.mjs';

const env = process.env;
const port = Number(env.BENCH_PORT ?? 0);
const alg = env.BENCH_ALG ?? 'ES256';
const clientCount = Number(env.BENCH_CLIENTS ?? 10);
const audience = env.BENCH_AUDIENCE ?? 'https://meters.bench.example/';
const SCOPE = 'meters:read meters:write';

let server;
let stopping;

async function main() {
  // Same key types as Portcullis generates (src/keys/signing-keys.ts).
  const options = { ES256: { extractable: true }, RS256: { extractable: true, modulusLength: 2048 }, EdDSA: { extractable: true, crv: 'Ed25519' } }[alg];
  if (!options) throw new Error(`unsupported alg ${alg}`);
  const { privateKey } = await generateKeyPair(alg, options);
  const jwk = { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg.toLowerCase()}-1` };

  const clients = [];
  for (let i = 0; i < clientCount; i++) {
    clients.push({ id: `bench-client-${i}`, secret: randomBytes(32).toString('base64url') });
  }

  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    // The provider checks each client's ID-token algorithm against its keys, though no ID token is issued here.
    clientDefaults: { id_token_signed_response_alg: alg },
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return { scope: SCOPE, audience, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg } } };
        },
      },
    },
    ttl: { ClientCredentials: 3600 },
  });
  provider.proxy = false;

  server = http.createServer(provider.callback());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  process.send({
    type: 'ready',
    url: `http://127.0.0.1:${address.port}`,
    issuer,
    audience,
    database: 'none (static clients, in-memory adapter)',
    clients,
    rssAtReadyMb: process.memoryUsage().rss / 2 ** 20,
    provisioning: { static: clientCount },
  });
}

function stop(code = 0) {
  stopping ??= (async () => {
    setTimeout(() => process.exit(code), 5000).unref();
    server?.closeAllConnections?.();
    await new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
    process.exit(code);
  })();
  return stopping;
}

runChild(main, stop);
