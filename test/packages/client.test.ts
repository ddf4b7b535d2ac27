import { createAuthenticatedFetch, createTokenSource, DiscoveryError, OAuthError, TransportError, type TokenSourceOptions } from '@portcullis/client';
import { createAccessTokenVerifier } from '@portcullis/resource';
import { requirePermissions } from '@portcullis/resource/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { freePort } from '../helpers/server.js';
import { manualClock, recordingFetch, startSdkServer, type RealServer } from '../helpers/sdk.js';
import { tampered } from '../helpers/tamper.js';

const TOKEN = '/oauth/token';
const METADATA = '/.well-known/oauth-authorization-server';
const noWait = async () => {};

/** @portcullis/client against a real, listening Portcullis. */
describe('@portcullis/client', () => {
  let server: RealServer;
  let seeded: SeededClient;
  let shortLived: SeededClient;

  beforeAll(async () => {
    server = await startSdkServer();
    seeded = await seedClient(server.runtime);
    shortLived = await seedClient(server.runtime, { ttl: 60 });
  });
  afterAll(async () => {
    await server?.close();
  });

  const sourceFor = (client: SeededClient, extra: Partial<TokenSourceOptions> = {}) => {
    const recorder = recordingFetch();
    const source = createTokenSource({
      issuer: server.issuer,
      clientId: client.clientId,
      clientSecret: client.secret,
      audience: client.apiIdentifier,
      fetch: recorder.fetch,
      sleep: noWait,
      ...extra,
    });
    return { source, recorder };
  };

  it('discovers the token endpoint (RFC 8414) and gets a token the resource package accepts', async () => {
    const { source, recorder } = sourceFor(seeded, { scope: ['meters:read'] });
    const token = await source.getAccessToken();
    expect(recorder.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${METADATA}`, `POST ${TOKEN}`]);
    // client_secret_basic by default, the grant and audience in the form body.
    expect(recorder.requests[1]?.authorization).toMatch(/^Basic /);
    expect(Object.fromEntries(recorder.bodies(TOKEN)[0] ?? [])).toEqual({ grant_type: 'client_credentials', audience: seeded.apiIdentifier, scope: 'meters:read' });
    expect(token.scope).toEqual(['meters:read']);
    const verified = await createAccessTokenVerifier({ issuer: server.issuer, audience: seeded.apiIdentifier }).verify(token.token);
    expect(verified.clientId).toBe(seeded.clientId);
    expect(verified.permissions).toEqual(['meters:read']);
  });

  it('authenticates with client_secret_post when asked to', async () => {
    const { source, recorder } = sourceFor(seeded, { authMethod: 'client_secret_post' });
    await source.getToken();
    expect(recorder.requests[1]?.authorization).toBeNull();
    expect(recorder.bodies(TOKEN)[0]?.get('client_secret')).toBe(seeded.secret);
  });

  it('caches the token and renews it renewBeforeSeconds ahead of expiry', async () => {
    const clock = manualClock();
    const { source, recorder } = sourceFor(shortLived, { now: clock.now, renewBeforeSeconds: 10 });
    const first = await source.getAccessToken();
    expect(first.expiresAt.getTime()).toBe(clock.now() + 60_000);
    clock.advance(49);
    expect(await source.getToken()).toBe(first.token);
    expect(recorder.count(TOKEN)).toBe(1);
    clock.advance(2); // 51 s: inside the 10 s renewal margin of a 60 s token
    const second = await source.getToken();
    expect(second).not.toBe(first.token);
    expect(recorder.count(TOKEN)).toBe(2);
    expect(recorder.count(METADATA)).toBe(1);
    expect(await source.getToken()).toBe(second);
    expect(recorder.count(TOKEN)).toBe(2);
  });

  it('never renews more than half a lifetime early (the default 60 s margin on a 60 s token)', async () => {
    const clock = manualClock();
    const { source, recorder } = sourceFor(shortLived, { now: clock.now });
    const first = await source.getToken();
    clock.advance(29);
    expect(await source.getToken()).toBe(first);
    clock.advance(2);
    expect(await source.getToken()).not.toBe(first);
    expect(recorder.count(TOKEN)).toBe(2);
  });

  it('shares one token request among concurrent callers', async () => {
    const { source, recorder } = sourceFor(seeded);
    const tokens = await Promise.all(Array.from({ length: 25 }, () => source.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(recorder.count(METADATA)).toBe(1);
    expect(recorder.count(TOKEN)).toBe(1);
    // And again when they all arrive while a renewal is due.
    const forced = await Promise.all(Array.from({ length: 10 }, () => source.getToken({ forceRefresh: true })));
    expect(new Set(forced).size).toBe(1);
    expect(forced[0]).not.toBe(tokens[0]);
    expect(recorder.count(TOKEN)).toBe(2);
  });

  it('surfaces a wrong secret as invalid_client, at once, without retrying', async () => {
    const { source, recorder } = sourceFor({ ...seeded, secret: tampered(seeded.secret, 6) });
    const err = await source.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'invalid_client', status: 401, transient: false, description: 'Client authentication failed.' });
    expect(recorder.count(TOKEN)).toBe(1);
    // A second call asks again (the secret may have been fixed), and fails the same way.
    await expect(source.getToken()).rejects.toMatchObject({ code: 'invalid_client' });
    expect(recorder.count(TOKEN)).toBe(2);
  });

  it('surfaces an unknown audience as invalid_target without retrying', async () => {
    const { source, recorder } = sourceFor({ ...seeded, apiIdentifier: 'https://nowhere.example.com/' });
    await expect(source.getToken()).rejects.toMatchObject({ name: 'OAuthError', code: 'invalid_target', status: 400 });
    expect(recorder.count(TOKEN)).toBe(1);
  });

  it('retries network errors and 5xx answers with backoff, then succeeds', async () => {
    const delays: number[] = [];
    const { source, recorder } = sourceFor(seeded, {
      retry: { retries: 3, baseDelayMs: 100, maxDelayMs: 1000 },
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    recorder.failNext(METADATA, 1, 'network');
    recorder.failNext(TOKEN, 1, 503);
    recorder.failNext(TOKEN, 1, 'network');
    const token = await source.getToken();
    expect(token).toMatch(/^eyJ/);
    expect(recorder.count(METADATA)).toBe(2);
    expect(recorder.count(TOKEN)).toBe(3);
    expect(delays).toHaveLength(3);
    // Exponential with jitter: the second wait of the token request is drawn from a doubled range.
    expect(delays[1]).toBeGreaterThanOrEqual(50);
    expect(delays[2]).toBeGreaterThanOrEqual(100);
  });

  it('gives up after its retries with a TransportError', async () => {
    const { source, recorder } = sourceFor(seeded, { retry: { retries: 2 } });
    recorder.failNext(TOKEN, 5, 503);
    const err = await source.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'http_error', status: 503, transient: true });
    expect(recorder.count(TOKEN)).toBe(3);
  });

  it('reports a server that is down as a network_error after retrying', async () => {
    const recorder = recordingFetch();
    const source = createTokenSource({
      issuer: `http://127.0.0.1:${await freePort()}`,
      clientId: seeded.clientId,
      clientSecret: seeded.secret,
      audience: seeded.apiIdentifier,
      fetch: recorder.fetch,
      sleep: noWait,
      retry: { retries: 2 },
    });
    await expect(source.getToken()).rejects.toMatchObject({ name: 'TransportError', code: 'network_error', message: expect.stringContaining('connection refused') });
    expect(recorder.count(METADATA)).toBe(3);
  });

  it('refuses metadata that names another issuer (RFC 8414 §3.3)', async () => {
    const { source } = sourceFor(seeded, { issuer: server.issuer.replace('127.0.0.1', 'localhost') });
    await expect(source.getToken()).rejects.toBeInstanceOf(DiscoveryError);
  });

  it('keeps using a still-valid token when a renewal fails transiently', async () => {
    const clock = manualClock();
    const { source, recorder } = sourceFor(shortLived, { now: clock.now, renewBeforeSeconds: 20, retry: { retries: 1 } });
    const first = await source.getToken();
    clock.advance(45);
    recorder.failNext(TOKEN, 2, 503);
    expect(await source.getToken()).toBe(first);
    expect(await source.getToken()).not.toBe(first);
  });

  describe('refresh tokens', () => {
    let refreshing: SeededClient;

    beforeAll(async () => {
      refreshing = await seedClient(server.runtime, { ttl: 60 });
      // Turned on the way an administrator would: PATCH the client.
      await server.runtime.clients.update(refreshing.orgId, refreshing.clientId, { refresh_tokens: true }, SYSTEM_ACTOR);
    });

    it('renews with the refresh token the server issued, keeping the newest one', async () => {
      const clock = manualClock();
      const { source, recorder } = sourceFor(refreshing, { now: clock.now, renewBeforeSeconds: 10 });
      const first = await source.getToken();
      clock.advance(55);
      const second = await source.getToken();
      clock.advance(55);
      const third = await source.getToken();
      expect(new Set([first, second, third]).size).toBe(3);
      const grants = recorder.bodies(TOKEN).map((b) => b.get('grant_type'));
      expect(grants).toEqual(['client_credentials', 'refresh_token', 'refresh_token']);
      const presented = recorder.bodies(TOKEN).map((b) => b.get('refresh_token'));
      // Each renewal presents a different (rotated) refresh token.
      expect(presented[1]).toMatch(/^pcr_/);
      expect(presented[2]).toMatch(/^pcr_/);
      expect(presented[2]).not.toBe(presented[1]);
      const verified = await createAccessTokenVerifier({ issuer: server.issuer, audience: refreshing.apiIdentifier }).verify(third);
      expect(verified.permissions).toEqual(['meters:read', 'meters:write']);
    });

    it('falls back to client credentials when its refresh token is refused (invalid_grant)', async () => {
      const clock = manualClock();
      const { source, recorder } = sourceFor(refreshing, { now: clock.now, renewBeforeSeconds: 10 });
      await source.getToken();
      const issued = JSON.parse(recorder.requests.at(-1)?.answer ?? '{}') as { refresh_token?: string };
      expect(issued.refresh_token).toMatch(/^pcr_/);
      // Someone else spends it first: the server rotates it away, so the source's copy is refused.
      const spent = await fetch(`${server.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${refreshing.clientId}:${refreshing.secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issued.refresh_token ?? '' }),
      });
      expect(spent.status).toBe(200);
      clock.advance(55);
      expect(await source.getToken()).toMatch(/^eyJ/);
      expect(recorder.requests.filter((r) => r.path === TOKEN).map((r) => [new URLSearchParams(r.body).get('grant_type'), r.status])).toEqual([
        ['client_credentials', 200],
        ['refresh_token', 400],
        ['client_credentials', 200],
      ]);
    });
  });

  describe('authenticated fetch', () => {
    let api: FastifyInstance;
    let apiUrl: string;
    const denied = new Set<string>();
    let denyAll = false;
    const received: { authorization: string | undefined; body: unknown }[] = [];

    beforeAll(async () => {
      const verifier = createAccessTokenVerifier({ issuer: server.issuer, audience: seeded.apiIdentifier });
      api = Fastify();
      // A local deny list, as an API may keep, refuses chosen tokens with 401.
      api.post('/echo', { preHandler: requirePermissions(verifier, 'meters:write') }, async (request, reply) => {
        received.push({ authorization: request.headers.authorization, body: request.body });
        if (denyAll || denied.has(request.accessToken?.claims.jti ?? '')) return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
        return { ok: true, body: request.body };
      });
      // APIs that refuse every call, each with another 401: none of them says the token is invalid.
      const refusals: Record<string, string | undefined> = { basic: 'Basic realm="meters"', bare: 'Bearer realm="meters"', none: undefined };
      for (const [name, challenge] of Object.entries(refusals)) {
        api.get(`/refuse/${name}`, async (request, reply) => {
          received.push({ authorization: request.headers.authorization, body: undefined });
          if (challenge) reply.header('www-authenticate', challenge);
          return reply.code(401).send({ error: 'unauthorized' });
        });
      }
      await api.listen({ port: 0, host: '127.0.0.1' });
      const address = api.server.address();
      apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    afterAll(async () => {
      await api?.close();
    });

    it('sends the bearer token and, on a 401, retries once with a fresh token and the same body', async () => {
      received.length = 0;
      const { source, recorder } = sourceFor(seeded);
      const call = createAuthenticatedFetch(source);
      const first = await source.getToken();
      denied.add(jtiOf(first));
      const res = await call(`${apiUrl}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 42 }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, body: { value: 42 } });
      expect(received.map((r) => r.authorization)).toEqual([`Bearer ${first}`, `Bearer ${await source.getToken()}`]);
      expect(received[1]?.body).toEqual({ value: 42 });
      expect(recorder.count(TOKEN)).toBe(2);
    });

    it('returns the second 401 as it is, without a third attempt', async () => {
      received.length = 0;
      denyAll = true;
      try {
        const { source, recorder } = sourceFor(seeded);
        const res = await createAuthenticatedFetch(source)(`${apiUrl}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(res.status).toBe(401);
        expect(received).toHaveLength(2);
        expect(recorder.count(TOKEN)).toBe(2);
      } finally {
        denyAll = false;
      }
    });

    it.each(['basic', 'bare', 'none'])('does not renew on a 401 without invalid_token (%s): 10 calls, 1 token request', async (name) => {
      received.length = 0;
      const { source, recorder } = sourceFor(seeded);
      const call = createAuthenticatedFetch(source);
      for (let i = 0; i < 10; i++) {
        const res = await call(`${apiUrl}/refuse/${name}`);
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: 'unauthorized' });
      }
      expect(received).toHaveLength(10);
      expect(new Set(received.map((r) => r.authorization)).size).toBe(1);
      expect(recorder.count(TOKEN)).toBe(1);
    });

    it('renews a token refused with invalid_token once, however many calls it failed', async () => {
      received.length = 0;
      denyAll = true;
      try {
        const { source, recorder } = sourceFor(seeded);
        const call = createAuthenticatedFetch(source);
        const first = await source.getToken();
        const answers = await Promise.all(Array.from({ length: 5 }, () => call(`${apiUrl}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })));
        expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
        // Five calls refused with the first token share one renewal; their retries, refused too, renew nothing.
        expect(recorder.count(TOKEN)).toBe(2);
        const second = await source.getToken();
        const sent = received.map((r) => r.authorization);
        expect(sent.filter((a) => a === `Bearer ${first}`)).toHaveLength(5);
        expect(sent.filter((a) => a === `Bearer ${second}`)).toHaveLength(5);
        // The next call finds the second token refused: it is renewed once in its turn.
        expect((await call(`${apiUrl}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
        expect(recorder.count(TOKEN)).toBe(3);
      } finally {
        denyAll = false;
      }
    });
  });
});

function jtiOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { jti: string }).jti;
}
