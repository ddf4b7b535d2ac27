import type { AddressInfo } from 'node:net';
import { createAuthenticatedFetch, createTokenSource, type TokenSourceOptions } from '@portcullis/client';
import { createAccessTokenVerifier } from '@portcullis/resource';
import { requirePermissions } from '@portcullis/resource/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { manualClock, recordingFetch, startSdkServer, type RealServer } from '../helpers/sdk.js';

const TOKEN = '/oauth/token';

/**
 * These tests need the server's DPoP support (RFC 9449 §5, built alongside this SDK). A server
 * whose metadata lists no dpop_signing_alg_values_supported skips them, naming why, except in
 * CI, where nothing skips.
 */
async function needsServerDpop(issuer: string, ctx: TestContext): Promise<void> {
  const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { dpop_signing_alg_values_supported?: string[] };
  if (metadata.dpop_signing_alg_values_supported?.length) return;
  if (process.env.CI === 'true') throw new Error('The server does not serve DPoP (no dpop_signing_alg_values_supported in its metadata).');
  ctx.skip('the server does not serve DPoP yet (no dpop_signing_alg_values_supported)');
}

/** @portcullis/client with dpop: DPoP-bound tokens from a real Portcullis (RFC 9449 §5), used on a real guarded API. */
describe.each([
  ['without nonces', {}],
  ['with server nonces (DPOP_NONCE)', { DPOP_NONCE: 'true' }],
])('@portcullis/client: DPoP token requests, %s', (_, env) => {
  let server: RealServer;
  let seeded: SeededClient;
  let api: FastifyInstance;
  let apiUrl: string;
  const nonces = 'DPOP_NONCE' in env;

  const sourceFor = (client: SeededClient, extra: Partial<TokenSourceOptions> = {}) => {
    const recorder = recordingFetch();
    const source = createTokenSource({
      issuer: server.issuer,
      clientId: client.clientId,
      clientSecret: client.secret,
      audience: client.apiIdentifier,
      dpop: true,
      fetch: recorder.fetch,
      sleep: async () => {},
      ...extra,
    });
    return { source, recorder };
  };

  beforeAll(async () => {
    server = await startSdkServer(env);
    seeded = await seedClient(server.runtime, { ttl: 60 });
    await server.runtime.clients.update(seeded.orgId, seeded.clientId, { require_dpop: true, refresh_tokens: true }, SYSTEM_ACTOR);
    const verifier = createAccessTokenVerifier({ issuer: server.issuer, audience: seeded.apiIdentifier, dpop: { required: true } });
    api = Fastify();
    api.get('/readings', { onRequest: requirePermissions(verifier, 'meters:read') }, async (request) => ({ jkt: request.accessToken?.dpopKeyThumbprint }));
    await api.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
    await server?.close();
  });

  it('sends a proof with the token request and gets a token bound to its key', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const { source, recorder } = sourceFor(seeded);
    const token = await source.getAccessToken();
    expect(token.tokenType).toBe('DPoP');
    const jkt = await (await source.dpopHandle?.())?.calculateThumbprint();
    expect(decodeJwt(token.token).cnf).toEqual({ jkt });
    const requests = recorder.requests.filter((r) => r.path === TOKEN);
    // With server nonces, the first request is refused with use_dpop_nonce and sent again with it (RFC 9449 §8).
    expect(requests.map((r) => r.status)).toEqual(nonces ? [400, 200] : [200]);
    if (nonces) expect(JSON.parse(requests[0]?.answer ?? '{}')).toMatchObject({ error: 'use_dpop_nonce' });
    const proof = requests.at(-1)?.dpop ?? '';
    expect(decodeProtectedHeader(proof)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } });
    expect(decodeJwt(proof)).toMatchObject({ htm: 'POST', htu: `${server.issuer}/oauth/token` });
    expect(decodeJwt(proof).nonce !== undefined).toBe(nonces);

    // The API requiring DPoP takes it, with a proof per call.
    const res = await createAuthenticatedFetch(source)(`${apiUrl}/readings`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jkt });
  });

  it('renews with the refresh token, bound to the same key, each renewal with its own proof', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const clock = manualClock();
    const { source, recorder } = sourceFor(seeded, { now: clock.now, renewBeforeSeconds: 10 });
    const first = await source.getToken();
    clock.advance(55);
    const second = await source.getToken();
    expect(second).not.toBe(first);
    const ok = recorder.requests.filter((r) => r.path === TOKEN && r.status === 200);
    expect(ok.map((r) => new URLSearchParams(r.body).get('grant_type'))).toEqual(['client_credentials', 'refresh_token']);
    expect(decodeJwt(ok[0]?.dpop ?? '').jti).not.toBe(decodeJwt(ok[1]?.dpop ?? '').jti);
    expect(decodeJwt(second).cnf).toEqual(decodeJwt(first).cnf);
    // The nonce learnt on the first request is used for the next ones: no second refusal.
    expect(recorder.requests.filter((r) => r.path === TOKEN && r.status === 400)).toHaveLength(nonces ? 1 : 0);
  });

  it('a client that requires DPoP gets invalid_dpop_proof without one', async (ctx) => {
    await needsServerDpop(server.issuer, ctx);
    const { source } = sourceFor(seeded, { dpop: false });
    await expect(source.getToken()).rejects.toMatchObject({ name: 'OAuthError', code: 'invalid_dpop_proof', status: 400, transient: false });
  });
});
