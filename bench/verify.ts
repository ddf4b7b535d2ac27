// Correctness of what was measured: sampled tokens verified against the server's JWKS (jose).
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { BenchClient } from './child-protocol.js';
import { SCOPE, type Alg } from './constants.js';
import { tokenRequest } from './load.js';
import type { ServerSpec } from './servers.js';
import type { ServerInfo } from './spawn.js';

export interface Verification {
  sampled: number;
  valid: number;
  wrongSecretRefused: boolean;
  failures: string[];
  ok: boolean;
}

interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
}

/**
 * Fetches `samples` tokens through the same requests as the load (random clients, always
 * including the first and the last) and verifies each with the server's published JWKS:
 * signature and algorithm, iss, aud, exp/iat, typ, client_id/sub, scope, unique jti. Also checks
 * that a wrong secret is refused, so that a server cannot be fast by accepting anything.
 */
export async function verifySample(server: ServerSpec, info: ServerInfo, samples: number, alg: Alg): Promise<Verification> {
  const failures: string[] = [];
  const metadata = (await (await fetch(`${info.url}${server.metadataPath}`)).json()) as { issuer: string; jwks_uri: string };
  if (metadata.issuer !== info.issuer) failures.push(`metadata issuer ${metadata.issuer}, expected ${info.issuer}`);
  const jwksUrl = new URL(metadata.jwks_uri);
  if (jwksUrl.hostname !== '127.0.0.1') throw new Error(`${server.name}: jwks_uri ${metadata.jwks_uri} is not on loopback`);
  const jwks = (await (await fetch(jwksUrl)).json()) as JSONWebKeySet;
  const keySet = createLocalJWKSet(jwks);

  const pick = (i: number) => info.clients[i] as BenchClient;
  const picks = [pick(0), pick(info.clients.length - 1)];
  while (picks.length < samples) picks.push(pick(Math.floor(Math.random() * info.clients.length)));
  const jtis = new Set<string>();
  let valid = 0;
  for (const client of picks.slice(0, samples)) {
    const problems: string[] = [];
    const res = await tokenRequest(server, info.url, client);
    const text = await res.text();
    if (res.status !== 200) {
      failures.push(`client ${client.id}: status ${res.status}: ${text.slice(0, 200)}`);
      continue;
    }
    const body = JSON.parse(text) as TokenResponse;
    if (body.token_type !== 'Bearer') problems.push(`token_type ${body.token_type}`);
    if (body.expires_in !== 3600) problems.push(`expires_in ${body.expires_in}`);
    if (!/no-store/.test(res.headers.get('cache-control') ?? '')) problems.push('Cache-Control: no-store missing');
    try {
      const header = decodeProtectedHeader(body.access_token);
      const { payload } = await jwtVerify<{ scope: string }>(body.access_token, keySet, {
        issuer: info.issuer,
        audience: info.audience,
        algorithms: [alg],
        requiredClaims: ['iat', 'exp', 'jti', 'sub', 'client_id', 'scope'],
      });
      // requiredClaims guarantees these.
      const { iat, exp, jti } = payload as { iat: number; exp: number; jti: string };
      const now = Math.floor(Date.now() / 1000);
      const checks = [
        header.alg === alg || `alg ${header.alg}`,
        typeof header.kid === 'string' || 'kid missing',
        exp - iat === 3600 || `lifetime ${exp - iat} s`,
        Math.abs(iat - now) <= 60 || `iat ${iat} is not now`,
        [...new Set(payload.scope.split(' '))].sort().join(' ') === SCOPE || `scope "${payload.scope}"`,
        body.scope === undefined || body.scope.split(' ').sort().join(' ') === SCOPE || `response scope "${body.scope}"`,
        !jtis.has(jti) || `jti ${jti} repeated`,
        ...server.checkClaims(payload, header, client),
      ];
      jtis.add(jti);
      problems.push(...checks.filter((c): c is string => c !== true));
    } catch (err) {
      const e = err as { code?: string; name: string; message: string };
      problems.push(`${e.code ?? e.name}: ${e.message}`);
    }
    if (problems.length > 0) failures.push(`client ${client.id}: ${problems.join('; ')}`);
    else valid++;
  }

  // A wrong secret must be refused; for Portcullis one of the right format and checksum, so that
  // the refusal comes from the hash comparison and not from the format check.
  const victim = pick(0);
  const wrong = await tokenRequest(server, info.url, victim, server.wrongSecret());
  await wrong.arrayBuffer();
  const wrongSecretRefused = wrong.status === 401;
  if (!wrongSecretRefused) failures.push(`a wrong secret answered ${wrong.status}, expected 401`);
  return { sampled: samples, valid, wrongSecretRefused, failures, ok: failures.length === 0 };
}
