import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAccessTokenVerifier, InvalidTokenError, verifyAccessToken, VerifierUnavailableError, type AccessTokenVerifier, type VerifierOptions } from '@portcullis/resource';
import { requirePermissions as expressGuard } from '@portcullis/resource/express';
import { requirePermissions as fastifyGuard } from '@portcullis/resource/fastify';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { freePort } from '../helpers/server.js';
import { claimsFor, recordingFetch, signWithServerKey, startSdkServer, type RealServer } from '../helpers/sdk.js';
import { tampered } from '../helpers/tamper.js';

interface Answer {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
}

/** The same protected API twice: with the Fastify guard and with the Express middleware. */
interface ProtectedApi {
  name: string;
  start(verifier: AccessTokenVerifier): Promise<void>;
  call(method: 'GET' | 'POST', authorization?: string): Promise<Answer>;
  close(): Promise<void>;
}

function fastifyApi(): ProtectedApi {
  let app: FastifyInstance;
  return {
    name: 'Fastify',
    async start(verifier) {
      app = Fastify();
      app.get('/readings', { preHandler: fastifyGuard(verifier, 'meters:read') }, async (request) => ({ client: request.accessToken?.clientId, org: request.accessToken?.organizationId }));
      app.post('/readings', { preHandler: fastifyGuard(verifier, 'meters:read', 'meters:write') }, async (request) => ({ client: request.accessToken?.clientId }));
      await app.ready();
    },
    async call(method, authorization) {
      const res = await app.inject({ method, url: '/readings', headers: authorization ? { authorization } : {}, ...(method === 'POST' ? { payload: {} } : {}) });
      return { status: res.statusCode, challenge: (res.headers['www-authenticate'] as string | undefined) ?? null, body: res.json() };
    },
    close: () => app.close(),
  };
}

function expressApi(): ProtectedApi {
  let server: Server;
  let url: string;
  return {
    name: 'Express',
    async start(verifier) {
      const app = express();
      app.get('/readings', expressGuard(verifier, 'meters:read'), (req, res) => {
        res.json({ client: req.accessToken?.clientId, org: req.accessToken?.organizationId });
      });
      app.post('/readings', expressGuard(verifier, 'meters:read', 'meters:write'), (req, res) => {
        res.json({ client: req.accessToken?.clientId });
      });
      server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readings`;
    },
    async call(method, authorization) {
      const res = await fetch(url, { method, headers: authorization ? { authorization } : {} });
      return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('@portcullis/resource against a real Portcullis', () => {
  let server: RealServer;
  let writer: SeededClient;
  let reader: SeededClient;
  let otherApi: SeededClient;
  const tokenFor = async (client: SeededClient, audience = client.apiIdentifier) => {
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret, audience }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const verifierOptions = (extra: Partial<VerifierOptions> = {}): VerifierOptions => ({ issuer: server.issuer, audience: writer.apiIdentifier, ...extra });

  beforeAll(async () => {
    server = await startSdkServer();
    writer = await seedClient(server.runtime);
    // Same organization and API, but a role granting only meters:read.
    const readRole = await server.runtime.catalogService.createRole(
      { name: `Reader ${writer.roleId}`, description: '', permissions: [{ api: writer.apiIdentifier, value: 'meters:read' }] },
      SYSTEM_ACTOR,
    );
    const created = await server.runtime.clients.create(writer.orgId, { name: 'reader', roles: [readRole.id] }, SYSTEM_ACTOR);
    reader = { ...writer, roleId: readRole.id, clientId: created.client.client_id, secret: created.client_secret };
    otherApi = await seedClient(server.runtime);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each([fastifyApi(), expressApi()])('$name guard', (api) => {
    beforeAll(async () => {
      await api.start(createAccessTokenVerifier(verifierOptions({ realm: 'meters' })));
    });
    afterAll(async () => {
      await api.close();
    });

    it('lets a good token through and hands the handler its facts', async () => {
      const res = await api.call('GET', `Bearer ${await tokenFor(writer)}`);
      expect(res).toMatchObject({ status: 200, body: { client: writer.clientId, org: writer.orgId } });
      expect((await api.call('POST', `Bearer ${await tokenFor(writer)}`)).status).toBe(200);
    });

    it('answers 401 with a bare Bearer challenge when there is no token (RFC 6750 §3.1)', async () => {
      for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
        const res = await api.call('GET', authorization);
        expect(res.status).toBe(401);
        expect(res.challenge).toBe('Bearer realm="meters"');
        expect(res.body).toMatchObject({ error: 'unauthorized' });
      }
    });

    it('answers 400 invalid_request for a malformed Bearer header', async () => {
      const res = await api.call('GET', 'Bearer not a token');
      expect(res.status).toBe(400);
      expect(res.challenge).toMatch(/^Bearer realm="meters", error="invalid_request"/);
    });

    const invalid: [string, () => Promise<string>, string][] = [
      [
        'expired',
        async () => signWithServerKey(server.runtime, claimsFor(server.issuer, writer.apiIdentifier, writer.clientId, { iat: now() - 600, exp: now() - 60 })),
        'The access token has expired.',
      ],
      ['for another API (wrong audience)', async () => tokenFor(otherApi), 'The access token is not for this API.'],
      [
        'from another issuer',
        async () => signWithServerKey(server.runtime, claimsFor('https://evil.example.com', writer.apiIdentifier, writer.clientId)),
        'The access token was issued by another issuer.',
      ],
      [
        'signed with a key the issuer does not publish (unknown kid)',
        async () => foreignToken(claimsFor(server.issuer, writer.apiIdentifier, writer.clientId)),
        'The access token was signed with a key the issuer does not publish.',
      ],
      ['tampered with (bad signature)', async () => tamper(await tokenFor(reader), { scope: 'meters:read meters:write' }), 'The access token signature is invalid.'],
      [
        'not an access token (typ JWT)',
        async () => signWithServerKey(server.runtime, claimsFor(server.issuer, writer.apiIdentifier, writer.clientId), { typ: 'JWT' }),
        'The token is not an access token (typ at+jwt).',
      ],
      [
        'without client_id',
        async () => signWithServerKey(server.runtime, claimsFor(server.issuer, writer.apiIdentifier, writer.clientId, { client_id: undefined })),
        'The access token has no client_id claim.',
      ],
      ['not a JWT at all', async () => 'abc.def.ghi', 'The access token is malformed.'],
    ];
    it.each(invalid)('answers 401 invalid_token for a token %s', async (_, make, description) => {
      const res = await api.call('GET', `Bearer ${await make()}`);
      expect(res.status).toBe(401);
      expect(res.challenge).toBe(`Bearer realm="meters", error="invalid_token", error_description="${description}"`);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: description });
    });

    it('answers 403 insufficient_scope, naming the scope required, for a missing permission', async () => {
      const token = await tokenFor(reader);
      expect((await api.call('GET', `Bearer ${token}`)).status).toBe(200);
      const res = await api.call('POST', `Bearer ${token}`);
      expect(res.status).toBe(403);
      expect(res.challenge).toBe('Bearer realm="meters", error="insufficient_scope", error_description="The access token lacks the permission meters:write.", scope="meters:read meters:write"');
      expect(res.body).toMatchObject({ error: 'insufficient_scope' });
    });
  });

  it('answers 503, not 401, when the issuer cannot be reached to get its keys', async () => {
    const api = fastifyApi();
    await api.start(createAccessTokenVerifier({ issuer: `http://127.0.0.1:${await freePort()}`, audience: writer.apiIdentifier }));
    try {
      const res = await api.call('GET', `Bearer ${await tokenFor(writer)}`);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res.challenge).toBeNull();
    } finally {
      await api.close();
    }
  });

  it('verifyAccessToken: per-call use shares one key set per issuer', async () => {
    const recorder = recordingFetch();
    const options = verifierOptions({ fetch: recorder.fetch });
    for (let i = 0; i < 3; i++) {
      const verified = await verifyAccessToken(await tokenFor(writer), options);
      expect(verified.permissions).toEqual(['meters:read', 'meters:write']);
      expect(verified.claims.iss).toBe(server.issuer);
    }
    expect(recorder.count('/.well-known/oauth-authorization-server')).toBe(1);
    expect(recorder.count('/.well-known/jwks.json')).toBe(1);
  });

  it('verify names the failed check in InvalidTokenError.reason', async () => {
    const verifier = createAccessTokenVerifier(verifierOptions());
    const expired = await signWithServerKey(server.runtime, claimsFor(server.issuer, writer.apiIdentifier, writer.clientId, { exp: now() - 60 }));
    await expect(verifier.verify(expired)).rejects.toMatchObject({ name: 'InvalidTokenError', reason: 'expired', status: 401 });
    await expect(verifier.verify(await tokenFor(otherApi))).rejects.toMatchObject({ reason: 'wrong_audience' });
    const err = await verifier.verify('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTokenError);
  });

  it('allows clock skew within clockToleranceSeconds only', async () => {
    const justExpired = await signWithServerKey(server.runtime, claimsFor(server.issuer, writer.apiIdentifier, writer.clientId, { exp: now() - 2 }));
    await expect(createAccessTokenVerifier(verifierOptions({ clockToleranceSeconds: 30 })).verify(justExpired)).resolves.toMatchObject({ clientId: writer.clientId });
    await expect(createAccessTokenVerifier(verifierOptions({ clockToleranceSeconds: 0 })).verify(justExpired)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('refuses algorithms outside the allow-list', async () => {
    const verifier = createAccessTokenVerifier(verifierOptions({ algorithms: ['RS256'] }));
    await expect(verifier.verify(await tokenFor(writer))).rejects.toMatchObject({ reason: 'algorithm_not_allowed' });
    expect(() => createAccessTokenVerifier(verifierOptions({ algorithms: ['HS256'] }))).toThrow(/asymmetric/);
  });

  describe('introspection mode', () => {
    it('sees a revoked token at once (RFC 7662), where JWT-only verification cannot', async () => {
      // The API introspects as a client of the organization whose tokens it checks.
      const introspection = { clientId: reader.clientId, clientSecret: reader.secret };
      const strict = createAccessTokenVerifier(verifierOptions({ introspection }));
      const offline = createAccessTokenVerifier(verifierOptions());
      const token = await tokenFor(writer);
      await expect(strict.verify(token)).resolves.toMatchObject({ clientId: writer.clientId });

      const revoke = await fetch(`${server.issuer}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: writer.clientId, client_secret: writer.secret }),
      });
      expect(revoke.status).toBe(200);

      await expect(strict.verify(token)).rejects.toMatchObject({ name: 'InvalidTokenError', reason: 'inactive' });
      await expect(offline.verify(token)).resolves.toMatchObject({ clientId: writer.clientId });
    });

    it('answers 503 when its own introspection credentials are refused', async () => {
      const strict = createAccessTokenVerifier(verifierOptions({ introspection: { clientId: reader.clientId, clientSecret: tampered(reader.secret, 6) } }));
      await expect(strict.verify(await tokenFor(writer))).rejects.toBeInstanceOf(VerifierUnavailableError);
    });
  });

  // Last: the other tests' shared key sets would meet the new kid within their refetch cooldown.
  it('picks up a key rotation on the server: an unknown kid refetches the JWKS', async () => {
    const recorder = recordingFetch();
    // A cooldown of 0 lets the refetch happen at once; the default (30 s) limits refetches under attack.
    const verifier = createAccessTokenVerifier(verifierOptions({ fetch: recorder.fetch, jwksCooldownSeconds: 0 }));
    const before = await tokenFor(writer);
    await verifier.verify(before);
    expect(recorder.count('/.well-known/jwks.json')).toBe(1);
    await verifier.verify(await tokenFor(writer));
    expect(recorder.count('/.well-known/jwks.json')).toBe(1);

    const rotated = await server.runtime.signingKeys.rotate(0);
    const after = await tokenFor(writer);
    expect(headerOf(after).kid).toBe(rotated.kid);
    expect(headerOf(after).kid).not.toBe(headerOf(before).kid);
    const verified = await verifier.verify(after);
    expect(verified.clientId).toBe(writer.clientId);
    expect(recorder.count('/.well-known/jwks.json')).toBe(2);
    // Tokens signed by the retired key stay valid while it is published.
    await verifier.verify(before);
  });
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}

async function foreignToken(claims: Record<string, unknown>): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-portcullis-key' }).sign(privateKey);
}

function tamper(token: string, changes: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>), ...changes };
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

function headerOf(token: string): { kid?: string } {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid?: string };
}
