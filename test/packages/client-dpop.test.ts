import type { AddressInfo } from 'node:net';
import { createAuthenticatedFetch, type AccessToken, type TokenSource } from '@portcullis/client';
import { createAccessTokenVerifier } from '@portcullis/resource';
import { requirePermissions } from '@portcullis/resource/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { claimsFor, signWithServerKey, startSdkServer, type RealServer } from '../helpers/sdk.js';

/**
 * createAuthenticatedFetch with DPoP-bound tokens, against a real API guarded by
 * @portcullis/resource (which verifies every proof). The tokens here come from a token source
 * written for the test, signed with the real server's key and bound to the source's key, so
 * that the API side is tested on its own; client-secretless.test.ts gets them from the token endpoint.
 */
describe('@portcullis/client: DPoP on API calls (RFC 9449 §7)', () => {
  let server: RealServer;
  let client: SeededClient;
  let api: FastifyInstance;
  let apiUrl: string;
  let nonce: string | undefined;
  let rotateNonce = false;
  const denied = new Set<string>();
  const seen: { authorization: string | undefined; proof: Record<string, unknown> | undefined; status?: number }[] = [];

  /** A token source of DPoP-bound tokens: what createTokenSource({ dpop: true }) hands out. */
  async function boundSource(): Promise<TokenSource & { issued: string[] }> {
    const handle = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
    const jkt = await handle.calculateThumbprint();
    const issued: string[] = [];
    let current: AccessToken | undefined;
    const getAccessToken = async () => {
      if (!current) {
        const token = await signWithServerKey(server.runtime, claimsFor(server.issuer, client.apiIdentifier, client.clientId, { cnf: { jkt } }));
        issued.push(token);
        current = { token, tokenType: 'DPoP', expiresAt: new Date(Date.now() + 300_000), scope: ['meters:read'] };
      }
      return current;
    };
    return {
      issued,
      getAccessToken,
      getToken: async () => (await getAccessToken()).token,
      invalidate(token) {
        if (token === undefined || current?.token === token) current = undefined;
      },
      dpopHandle: async () => handle,
    };
  }

  beforeAll(async () => {
    server = await startSdkServer();
    client = await seedClient(server.runtime);
    const verifier = createAccessTokenVerifier({ issuer: server.issuer, audience: client.apiIdentifier, dpop: { required: true } });
    api = Fastify();
    api.addHook('onRequest', async (request, reply) => {
      const proof = typeof request.headers.dpop === 'string' ? decodeJwt(request.headers.dpop) : undefined;
      seen.push({ authorization: request.headers.authorization, proof });
      // RFC 9449 §9: an API that wants server-provided nonces refuses a proof without the current one.
      if (nonce !== undefined && proof?.nonce !== nonce) {
        const offered = nonce;
        if (rotateNonce) nonce = `${nonce}+`;
        return reply
          .code(401)
          .header('www-authenticate', 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"')
          .header('dpop-nonce', offered)
          .send({ error: 'use_dpop_nonce' });
      }
    });
    const handler = async (request: { accessToken?: { claims: { jti: string } }; body?: unknown }, reply: { code(n: number): { header(k: string, v: string): { send(b: unknown): unknown } } }) => {
      if (denied.has(request.accessToken?.claims.jti ?? '')) return reply.code(401).header('www-authenticate', 'DPoP error="invalid_token", algs="ES256"').send({ error: 'invalid_token' });
      return { ok: true, body: request.body ?? null };
    };
    api.get('/readings', { preHandler: requirePermissions(verifier, 'meters:read') }, handler);
    api.post('/readings', { preHandler: requirePermissions(verifier, 'meters:read') }, handler);
    await api.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
    await server?.close();
  });

  it('sends Authorization: DPoP with a fresh proof of the key for each request', async () => {
    seen.length = 0;
    const source = await boundSource();
    const call = createAuthenticatedFetch(source);
    const get = await call(`${apiUrl}/readings?since=1`);
    expect(get.status).toBe(200);
    const post = await call(`${apiUrl}/readings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 1 }) });
    expect(await post.json()).toEqual({ ok: true, body: { value: 1 } });
    const [token] = source.issued;
    expect(seen.map((s) => s.authorization)).toEqual([`DPoP ${token}`, `DPoP ${token}`]);
    expect(seen.map((s) => [s.proof?.htm, s.proof?.htu])).toEqual([
      ['GET', `${apiUrl}/readings`],
      ['POST', `${apiUrl}/readings`],
    ]);
    expect(seen[0]?.proof?.jti).not.toBe(seen[1]?.proof?.jti);
    expect(seen[0]?.proof?.ath).toBe(Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url'));
  });

  it('retries once with the nonce an API asks for (use_dpop_nonce), and keeps it for the next calls', async () => {
    seen.length = 0;
    nonce = 'n-1';
    try {
      const call = createAuthenticatedFetch(await boundSource());
      expect((await call(`${apiUrl}/readings`)).status).toBe(200);
      expect(seen.map((s) => s.proof?.nonce)).toEqual([undefined, 'n-1']);
      expect((await call(`${apiUrl}/readings`)).status).toBe(200);
      expect(seen).toHaveLength(3);
      // A new nonce: one more retry. A POST body is sent again, whole.
      nonce = 'n-2';
      const res = await call(`${apiUrl}/readings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"value":2}' });
      expect(await res.json()).toEqual({ ok: true, body: { value: 2 } });
      expect(seen.map((s) => s.proof?.nonce)).toEqual([undefined, 'n-1', 'n-1', 'n-1', 'n-2']);
    } finally {
      nonce = undefined;
    }
  });

  it('returns the second use_dpop_nonce answer as it is, without a third attempt or a new token', async () => {
    seen.length = 0;
    const source = await boundSource();
    const call = createAuthenticatedFetch(source);
    // An API that changes its nonce on every request can never be satisfied.
    nonce = 'first';
    rotateNonce = true;
    try {
      const res = await call(`${apiUrl}/readings`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
      expect(seen).toHaveLength(2);
      expect(source.issued).toHaveLength(1);
    } finally {
      nonce = undefined;
      rotateNonce = false;
    }
  });

  it('renews a DPoP token refused with DPoP error="invalid_token", once', async () => {
    seen.length = 0;
    const source = await boundSource();
    const call = createAuthenticatedFetch(source);
    const first = await source.getToken();
    denied.add(decodeJwt(first).jti ?? '');
    const res = await call(`${apiUrl}/readings`);
    expect(res.status).toBe(200);
    expect(source.issued).toHaveLength(2);
    expect(seen.map((s) => s.authorization)).toEqual([`DPoP ${first}`, `DPoP ${source.issued[1]}`]);
    // The proof of the retry is for the new token.
    expect(seen[1]?.proof?.ath).not.toBe(seen[0]?.proof?.ath);
    expect(decodeProtectedHeader(first).typ).toBe('at+jwt');
  });
});
