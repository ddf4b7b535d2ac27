import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAccessTokenVerifier, type AccessTokenVerifier, type VerifierOptions } from '@portcullis/resource';
import { requireAnyPermission as expressAny, requirePermissions as expressGuard } from '@portcullis/resource/express';
import { requireAnyPermission as fastifyAny, requirePermissions as fastifyGuard } from '@portcullis/resource/fastify';
import express from 'express';
import Fastify from 'fastify';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { claimsFor, signWithServerKey, startSdkServer, type RealServer } from '../helpers/sdk.js';

const ALGS = 'ES256 ES384 PS256 RS256 EdDSA Ed25519';

interface Answer {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
}

/** One protected API, served for real on 127.0.0.1 by Fastify or Express. */
interface DPoPApi {
  name: string;
  url: string;
  start(verifier: AccessTokenVerifier): Promise<void>;
  close(): Promise<void>;
}

function fastifyApi(): DPoPApi {
  const app = Fastify();
  const api: DPoPApi = {
    name: 'Fastify',
    url: '',
    async start(verifier) {
      app.get('/readings', { onRequest: fastifyGuard(verifier, 'meters:read') }, async (request) => ({ client: request.accessToken?.clientId, jkt: request.accessToken?.dpopKeyThumbprint ?? null }));
      app.get('/either', { onRequest: fastifyAny(verifier, 'meters:admin', 'meters:read') }, async () => ({ ok: true }));
      app.get('/admin', { onRequest: fastifyAny(verifier, 'meters:admin', 'meters:audit') }, async () => ({ ok: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      api.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
    close: () => app.close(),
  };
  return api;
}

function expressApi(): DPoPApi {
  let server: Server;
  const api: DPoPApi = {
    name: 'Express',
    url: '',
    async start(verifier) {
      const app = express();
      app.get('/readings', expressGuard(verifier, 'meters:read'), (req, res) => {
        res.json({ client: req.accessToken?.clientId, jkt: req.accessToken?.dpopKeyThumbprint ?? null });
      });
      app.get('/either', expressAny(verifier, 'meters:admin', 'meters:read'), (_req, res) => {
        res.json({ ok: true });
      });
      app.get('/admin', expressAny(verifier, 'meters:admin', 'meters:audit'), (_req, res) => {
        res.json({ ok: true });
      });
      server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return api;
}

interface Holder {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function holder(alg = 'ES256'): Promise<Holder> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A DPoP proof (RFC 9449 §4.2) as a client makes it; `overrides` make it wrong in one way. */
async function proof(key: Holder, htm: string, htu: string, accessToken: string | undefined, overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const claims = {
    jti: randomBytes(12).toString('base64url'),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(accessToken !== undefined ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
    ...overrides,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...header }).sign(key.privateKey);
}

describe('@portcullis/resource: DPoP-bound tokens (RFC 9449 §7)', () => {
  let server: RealServer;
  let client: SeededClient;
  let key: Holder;
  let other: Holder;
  const options = (extra: Partial<VerifierOptions> = {}): VerifierOptions => ({ issuer: server.issuer, audience: client.apiIdentifier, ...extra });
  /** A token the server's own key signed, bound to `jkt` (what the token endpoint issues for a DPoP proof). */
  const boundToken = (jkt: string, extra: Record<string, unknown> = {}) =>
    signWithServerKey(server.runtime, claimsFor(server.issuer, client.apiIdentifier, client.clientId, { cnf: { jkt }, ...extra }));
  const bearerToken = () => signWithServerKey(server.runtime, claimsFor(server.issuer, client.apiIdentifier, client.clientId));

  beforeAll(async () => {
    server = await startSdkServer();
    client = await seedClient(server.runtime);
    key = await holder();
    other = await holder();
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each([fastifyApi(), expressApi()])('$name guard', (api) => {
    const call = async (path: string, headers: Record<string, string>): Promise<Answer> => {
      const res = await fetch(`${api.url}${path}`, { headers });
      return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
    };
    const withProof = async (token: string, make: (htu: string) => Promise<string>, path = '/readings') => call(path, { authorization: `DPoP ${token}`, dpop: await make(`${api.url}${path}`) });
    const refusedToken = (description: string) => `DPoP error="invalid_token", error_description="${description}", algs="${ALGS}"`;
    const refusedProof = (description: string) => `DPoP error="invalid_dpop_proof", error_description="${description}", algs="${ALGS}"`;

    beforeAll(async () => {
      await api.start(createAccessTokenVerifier(options()));
    });
    afterAll(async () => {
      await api.close();
    });

    it('accepts a bound token with a proof of its key, and tells the handler the key', async () => {
      const token = await boundToken(key.jkt);
      const res = await withProof(token, (htu) => proof(key, 'GET', htu, token));
      expect(res).toEqual({ status: 200, challenge: null, body: { client: client.clientId, jkt: key.jkt } });
      // The query string is not part of htu (RFC 9449 §4.3).
      const withQuery = await call('/readings?from=2025-01-01', { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', `${api.url}/readings`, token) });
      expect(withQuery.status).toBe(200);
    });

    it('refuses a bound token sent as a bearer token, with a DPoP challenge', async () => {
      const res = await call('/readings', { authorization: `Bearer ${await boundToken(key.jkt)}` });
      const description = 'The access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof.';
      expect(res).toEqual({ status: 401, challenge: refusedToken(description), body: { error: 'invalid_token', error_description: description } });
    });

    it('refuses a bound token whose proof is signed by another key', async () => {
      const token = await boundToken(key.jkt);
      const res = await withProof(token, (htu) => proof(other, 'GET', htu, token));
      const description = 'The access token is bound to another key than the DPoP proof.';
      expect(res).toEqual({ status: 401, challenge: refusedToken(description), body: { error: 'invalid_token', error_description: description } });
    });

    it('refuses an unbound token sent with the DPoP scheme', async () => {
      const token = await bearerToken();
      const res = await withProof(token, (htu) => proof(key, 'GET', htu, token));
      expect(res.status).toBe(401);
      expect(res.challenge).toBe(refusedToken('The access token is not bound to a DPoP key: send it as a Bearer token.'));
    });

    it('still takes plain bearer tokens with a Bearer challenge on failure (DPoP not required)', async () => {
      expect((await call('/readings', { authorization: `Bearer ${await bearerToken()}` })).status).toBe(200);
      expect((await call('/readings', {})).challenge).toBe('Bearer');
    });

    const badProofs: [string, (token: string, htu: string) => Promise<string>, string][] = [
      ['for another method (htm)', (t, htu) => proof(key, 'POST', htu, t), 'The DPoP proof is for another HTTP method (htm).'],
      ['for another URL (htu)', (t, htu) => proof(key, 'GET', htu.replace('/readings', '/other'), t), 'The DPoP proof is for another URL (htu).'],
      ['for another host (htu)', (t, htu) => proof(key, 'GET', htu.replace('127.0.0.1', 'evil.example.com'), t), 'The DPoP proof is for another URL (htu).'],
      ['for another access token (ath)', (_t, htu) => proof(key, 'GET', htu, 'another token'), 'The DPoP proof is not for this access token (ath).'],
      ['without ath', (_t, htu) => proof(key, 'GET', htu, undefined), 'The DPoP proof is not for this access token (ath).'],
      ['too old (iat)', (t, htu) => proof(key, 'GET', htu, t, { iat: Math.floor(Date.now() / 1000) - 600 }), 'The DPoP proof is too old (iat).'],
      ['from the future (iat)', (t, htu) => proof(key, 'GET', htu, t, { iat: Math.floor(Date.now() / 1000) + 600 }), 'The DPoP proof is issued in the future (iat).'],
      ['without jti', (t, htu) => proof(key, 'GET', htu, t, { jti: undefined }), 'The DPoP proof has no valid jti claim.'],
      ['of type JWT', (t, htu) => proof(key, 'GET', htu, t, {}, { typ: 'JWT' }), 'The DPoP proof is not of type dpop+jwt.'],
      [
        'with a private key in its header',
        async (t, htu) => {
          const { privateKey } = await generateKeyPair('ES256', { extractable: true });
          return proof(key, 'GET', htu, t, {}, { jwk: await exportJWK(privateKey) });
        },
        'The DPoP proof is malformed.',
      ],
      ['signed by a key other than its header names', async (t, htu) => proof({ ...other, jwk: key.jwk }, 'GET', htu, t), 'The DPoP proof signature is invalid.'],
      ['that is not a JWS', async () => 'not.a.proof', 'The DPoP proof is malformed.'],
    ];
    it.each(badProofs)('answers invalid_dpop_proof for a proof %s', async (_, make, description) => {
      const token = await boundToken(key.jkt);
      const res = await withProof(token, (htu) => make(token, htu));
      expect(res).toEqual({ status: 401, challenge: refusedProof(description), body: { error: 'invalid_dpop_proof', error_description: description } });
    });

    it('answers invalid_dpop_proof for a missing proof, and for two', async () => {
      const token = await boundToken(key.jkt);
      const missing = await call('/readings', { authorization: `DPoP ${token}` });
      expect(missing.challenge).toBe(refusedProof('A DPoP-bound access token needs a DPoP proof header.'));
      const one = await proof(key, 'GET', `${api.url}/readings`, token);
      const res = await fetch(`${api.url}/readings`, {
        headers: [
          ['authorization', `DPoP ${token}`],
          ['dpop', one],
          ['dpop', await proof(key, 'GET', `${api.url}/readings`, token)],
        ],
      });
      expect(res.status).toBe(401);
      // Node joins repeated headers it does not know into one value: that is no JWS either.
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    });

    it('refuses a replayed proof (jti seen before)', async () => {
      const token = await boundToken(key.jkt);
      const once = await proof(key, 'GET', `${api.url}/readings`, token);
      expect((await call('/readings', { authorization: `DPoP ${token}`, dpop: once })).status).toBe(200);
      const again = await call('/readings', { authorization: `DPoP ${token}`, dpop: once });
      expect(again.challenge).toBe(refusedProof('The DPoP proof has been used before (jti).'));
    });

    it('refuses an expired bound token even with a good proof', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await boundToken(key.jkt, { iat: now - 600, exp: now - 60 });
      const res = await withProof(token, (htu) => proof(key, 'GET', htu, token));
      expect(res.challenge).toBe(refusedToken('The access token has expired.'));
    });

    it('any-of guards pass a token holding one of the permissions and refuse one holding none', async () => {
      const token = await boundToken(key.jkt);
      expect((await withProof(token, (htu) => proof(key, 'GET', htu, token), '/either')).status).toBe(200);
      const res = await withProof(token, (htu) => proof(key, 'GET', htu, token), '/admin');
      const description = 'The access token holds none of the permissions meters:admin, meters:audit.';
      expect(res).toEqual({
        status: 403,
        challenge: `DPoP error="insufficient_scope", error_description="${description}", algs="${ALGS}"`,
        body: { error: 'insufficient_scope', error_description: description },
      });
      const bearer = await call('/admin', { authorization: `Bearer ${await bearerToken()}` });
      expect(bearer.challenge).toBe(`Bearer error="insufficient_scope", error_description="${description}"`);
    });
  });

  describe.each([fastifyApi(), expressApi()])('$name guard of an API that requires DPoP', (api) => {
    beforeAll(async () => {
      await api.start(createAccessTokenVerifier(options({ dpop: { required: true, algorithms: ['ES256'] } })));
    });
    afterAll(async () => {
      await api.close();
    });

    it('refuses bearer tokens and announces DPoP with its algorithms', async () => {
      const anonymous = await fetch(`${api.url}/readings`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('DPoP algs="ES256"');
      const bearer = await fetch(`${api.url}/readings`, { headers: { authorization: `Bearer ${await bearerToken()}` } });
      expect(bearer.status).toBe(401);
      expect(bearer.headers.get('www-authenticate')).toBe('DPoP error="invalid_token", error_description="This API accepts only DPoP-bound access tokens.", algs="ES256"');
      const token = await boundToken(key.jkt);
      const bound = await fetch(`${api.url}/readings`, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', `${api.url}/readings`, token) } });
      expect(bound.status).toBe(200);
    });

    it('refuses proofs signed with an algorithm outside its list', async () => {
      const rsa = await holder('PS256');
      const token = await boundToken(rsa.jkt);
      const dpop = await new SignJWT({ jti: 'x1', htm: 'GET', htu: `${api.url}/readings`, iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(token).digest('base64url') })
        .setProtectedHeader({ alg: 'PS256', typ: 'dpop+jwt', jwk: rsa.jwk })
        .sign(rsa.privateKey);
      const res = await fetch(`${api.url}/readings`, { headers: { authorization: `DPoP ${token}`, dpop } });
      expect(res.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof", error_description="The DPoP proof is signed with an algorithm this API does not accept.", algs="ES256"');
    });
  });

  it('compares htu with the configured origin behind a proxy', async () => {
    const api = fastifyApi();
    await api.start(createAccessTokenVerifier(options({ dpop: { origin: 'https://meters.example.com' } })));
    try {
      const token = await boundToken(key.jkt);
      const viaProxy = await fetch(`${api.url}/readings`, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', 'https://meters.example.com/readings', token) } });
      expect(viaProxy.status).toBe(200);
      const direct = await fetch(`${api.url}/readings`, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', `${api.url}/readings`, token) } });
      expect(direct.status).toBe(401);
    } finally {
      await api.close();
    }
  });

  it('verify() refuses a bound token without a proof, and checks one given', async () => {
    const verifier = createAccessTokenVerifier(options());
    const token = await boundToken(key.jkt);
    await expect(verifier.verify(token)).rejects.toMatchObject({ name: 'InvalidTokenError', reason: 'dpop_bound' });
    const url = 'https://meters.example.com/readings';
    await expect(verifier.verify(token, { proof: await proof(key, 'GET', url, token), method: 'GET', url })).resolves.toMatchObject({ dpopKeyThumbprint: key.jkt });
    await expect(verifier.verify(token, { proof: await proof(other, 'GET', url, token), method: 'GET', url })).rejects.toMatchObject({ reason: 'wrong_dpop_key' });
    await expect(verifier.verify(token, { proof: await proof(key, 'GET', url, token), method: 'PUT', url })).rejects.toMatchObject({ name: 'InvalidDPoPProofError', reason: 'wrong_method' });
  });

  it('forgets the oldest proof ids when its replay cache is full', async () => {
    const verifier = createAccessTokenVerifier(options({ dpop: { replayCacheSize: 2 } }));
    const token = await boundToken(key.jkt);
    const url = 'https://meters.example.com/readings';
    const proofs = await Promise.all([1, 2, 3].map(() => proof(key, 'GET', url, token)));
    for (const p of proofs) await verifier.verify(token, { proof: p, method: 'GET', url });
    // The newest two are remembered; the first was pushed out, as documented.
    await expect(verifier.verify(token, { proof: proofs[2] ?? '', method: 'GET', url })).rejects.toMatchObject({ reason: 'replayed' });
    await expect(verifier.verify(token, { proof: proofs[1] ?? '', method: 'GET', url })).rejects.toMatchObject({ reason: 'replayed' });
    await expect(verifier.verify(token, { proof: proofs[0] ?? '', method: 'GET', url })).resolves.toMatchObject({ dpopKeyThumbprint: key.jkt });
  });
});
