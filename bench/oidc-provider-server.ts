// The peer under benchmark: node-oidc-provider v9, configured for the job Portcullis does
// (client credentials, client_secret_basic, RFC 9068 JWT access tokens for one resource
// server through the resource indicators feature, the same signing algorithm), as a child
// process started by bench/run.ts. Its clients are static configuration and its artefacts
// live in the provider's default in-memory adapter: it persists nothing.
//
// Environment (from the parent): BENCH_PORT, BENCH_ALG, BENCH_CLIENTS, BENCH_AUDIENCE.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type GenerateKeyPairOptions } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { report, runChild, type BenchClient } from './child-protocol.js';
import { AUDIENCE, SCOPE } from './constants.js';

const env = process.env;
const port = Number(env.BENCH_PORT ?? 0);
const alg = env.BENCH_ALG ?? 'ES256';
const clientCount = Number(env.BENCH_CLIENTS ?? 10);
const audience = env.BENCH_AUDIENCE ?? AUDIENCE;

/** Same key types as Portcullis generates (src/keys/signing-keys.ts). */
const KEY_OPTIONS: Record<string, GenerateKeyPairOptions> = {
  ES256: { extractable: true },
  RS256: { extractable: true, modulusLength: 2048 },
  EdDSA: { extractable: true, crv: 'Ed25519' },
};

let server: http.Server | undefined;
let stopping: Promise<void> | undefined;

async function main(): Promise<void> {
  const options = KEY_OPTIONS[alg];
  if (!options) throw new Error(`unsupported alg ${alg}`);
  const { privateKey } = await generateKeyPair(alg, options);
  const jwk = { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bench-${alg.toLowerCase()}-1` };

  const clients: BenchClient[] = [];
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
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return { scope: SCOPE, audience, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg } } };
        },
      },
    },
    ttl: { ClientCredentials: 3600 },
  });
  provider.proxy = false;

  const listening = http.createServer(provider.callback());
  server = listening;
  await new Promise<void>((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(port, '127.0.0.1', resolve);
  });
  const address = listening.address() as AddressInfo;
  report({
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

function stop(code = 0): Promise<void> {
  stopping ??= (async () => {
    setTimeout(() => process.exit(code), 5000).unref();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    process.exit(code);
  })();
  return stopping;
}

runChild(main, stop);
