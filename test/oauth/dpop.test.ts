import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { testDatabases } from '../helpers/databases.js';
import { basic, form, seedClient, TEST_ISSUER, type SeededClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { verifyAccessToken } from '../helpers/tokens.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
  privateJwk: JWK;
  alg: string;
}

async function proofKey(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey), alg };
}

/** A DPoP proof (RFC 9449 §4.2); `claims` and `header` override the defaults. */
async function proof(key: ProofKey, now: Date, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signWith?: CryptoKey): Promise<string> {
  return new SignJWT({ htm: 'POST', htu: `${TEST_ISSUER}/oauth/token`, iat: Math.floor(now.getTime() / 1000), jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(signWith ?? key.privateKey);
}

function expectDpopError(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, error = 'invalid_dpop_proof') {
  expect(res.statusCode, JSON.stringify(res.json())).toBe(400);
  expect(res.headers['cache-control']).toBe('no-store');
  expect((res.json() as { error: string }).error).toBe(error);
  expect(Object.keys(res.json() as object).sort()).toEqual(['error', 'error_description']);
}

function runs(env: Record<string, string>, label: string) {
  describe.each(testDatabases())(`DPoP (RFC 9449) at the token endpoint on $name${label}`, (db) => {
    let p: TestPortcullis;
    usePortcullis(db, (started) => (p = started), { env });
    let c: SeededClient;
    let key: ProofKey;
    let jkt: string;

    const token = (dpop: string | string[] | undefined, params: Record<string, string> = {}, url = '/oauth/token', client: { clientId: string; secret: string } = c) =>
      p.app.inject({
        method: 'POST',
        url,
        headers: { ...FORM, authorization: basic(client.clientId, client.secret), ...(dpop !== undefined ? { dpop } : {}) },
        payload: form({ grant_type: 'client_credentials', audience: c.apiIdentifier, ...params }),
      });

    beforeAll(async () => {
      c = await seedClient(p.runtime, { refreshTokens: true });
      key = await proofKey();
      jkt = await calculateJwkThumbprint(key.jwk, 'sha256');
    });

    /** A proof with the server's nonce when DPOP_NONCE is on (the first request learns it). */
    async function validProof(k: ProofKey, claims: Record<string, unknown> = {}, url = '/oauth/token'): Promise<string> {
      if (env.DPOP_NONCE !== 'true') return proof(k, p.clock.now(), claims);
      const first = await token(await proof(k, p.clock.now(), claims), {}, url);
      expectDpopError(first, 'use_dpop_nonce');
      const nonce = first.headers['dpop-nonce'];
      expect(typeof nonce).toBe('string');
      return proof(k, p.clock.now(), { nonce, ...claims });
    }

    it('answers token_type DPoP and an access token whose cnf.jkt is the proof key thumbprint (RFC 7638), at both paths', async () => {
      for (const [alg, url] of [
        ['ES256', '/oauth/token'],
        ['EdDSA', '/oauth2/token'],
        ['RS256', '/oauth/token'],
        ['PS256', '/oauth/token'],
      ] as const) {
        const k = alg === 'ES256' ? key : await proofKey(alg);
        const res = await token(await validProof(k, { htu: `${TEST_ISSUER}${url}?ignored=1#too` }, url), {}, url);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        const body = res.json() as { access_token: string; token_type: string; refresh_token: string };
        expect(body.token_type).toBe('DPoP');
        const { payload } = await verifyAccessToken(p.app, body.access_token, c.apiIdentifier, p.clock.now());
        expect(payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(k.jwk, 'sha256') });
        if (env.DPOP_NONCE === 'true') expect(typeof res.headers['dpop-nonce']).toBe('string');
        else expect(res.headers['dpop-nonce']).toBeUndefined();
      }
    });

    it('refuses bad typ, alg, htm, htu, iat, a private jwk, a mismatched signature, a replay, two headers: 400 invalid_dpop_proof', async () => {
      const now = p.clock.now();
      const iat = Math.floor(now.getTime() / 1000);
      const other = await proofKey();
      const good = await validProof(key);
      const nonce = env.DPOP_NONCE === 'true' ? { nonce: (await token(await proof(key, now))).headers['dpop-nonce'] } : {};
      const cases: [string, string | string[]][] = [
        ['typ jwt', await proof(key, now, nonce, { typ: 'JWT' })],
        ['htm GET', await proof(key, now, { ...nonce, htm: 'GET' })],
        ['htu elsewhere', await proof(key, now, { ...nonce, htu: 'https://elsewhere.example/oauth/token' })],
        ['htu other path', await proof(key, now, { ...nonce, htu: `${TEST_ISSUER}/oauth/introspect` })],
        ['iat too old', await proof(key, now, { ...nonce, iat: iat - 61 })],
        ['iat ahead', await proof(key, now, { ...nonce, iat: iat + 61 })],
        ['no jti', await proof(key, now, { ...nonce, jti: undefined })],
        ['private jwk', await proof(key, now, nonce, { jwk: key.privateJwk })],
        ['signed by another key', await proof(key, now, nonce, {}, other.privateKey)],
        ['no jwk', await proof(key, now, nonce, { jwk: undefined })],
        ['not a JWT', 'garbage'],
        ['two headers', [good, good]],
      ];
      for (const [what, dpop] of cases) {
        const res = await token(dpop);
        expect(res.statusCode, what).toBe(400);
        expectDpopError(res);
      }
      const hs = await new SignJWT({ htm: 'POST', htu: `${TEST_ISSUER}/oauth/token`, iat, jti: randomUUID(), ...nonce })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'eHh4' } as unknown as JWK })
        .sign(new TextEncoder().encode('x'.repeat(32)));
      expectDpopError(await token(hs));

      expect((await token(good)).statusCode).toBe(200);
      const replay = await token(good);
      expectDpopError(replay);
      expect((replay.json() as { error_description: string }).error_description).toBe('The DPoP proof is invalid: the proof was used before (jti replayed).');
    });

    it('require_dpop: a client that sends no proof gets 400 invalid_dpop_proof; with one it gets a token', async () => {
      const strict = await seedClient(p.runtime);
      await p.runtime.clients.update(strict.orgId, strict.clientId, { require_dpop: true }, SYSTEM_ACTOR);
      const res = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(strict.clientId, strict.secret) },
        payload: form({ grant_type: 'client_credentials', audience: strict.apiIdentifier }),
      });
      expectDpopError(res);
      expect(res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'This client must send a DPoP proof (require_dpop).' });
      const withProof = await p.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { ...FORM, authorization: basic(strict.clientId, strict.secret), dpop: await validProof(key) },
        payload: form({ grant_type: 'client_credentials', audience: strict.apiIdentifier }),
      });
      expect(withProof.statusCode, withProof.body).toBe(200);
      expect((withProof.json() as { token_type: string }).token_type).toBe('DPoP');
    });

    it('binds refresh tokens to the key: no proof → invalid_dpop_proof, another key → invalid_grant, neither spends it; the same key works', async () => {
      const first = (await token(await validProof(key))).json() as { refresh_token: string };
      const refresh = async (dpop: string | undefined) => token(dpop, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      const none = await refresh(undefined);
      expectDpopError(none);
      const otherKey = await refresh(await validProof(await proofKey()));
      expect(otherKey.statusCode).toBe(400);
      expect((otherKey.json() as { error: string }).error).toBe('invalid_grant');
      const ok = await refresh(await validProof(key));
      expect(ok.statusCode, ok.body).toBe(200);
      const body = ok.json() as { access_token: string; token_type: string };
      expect(body.token_type).toBe('DPoP');
      expect((await verifyAccessToken(p.app, body.access_token, c.apiIdentifier, p.clock.now())).payload.cnf).toEqual({ jkt });
    });

    it('introspection shows cnf for bound access and refresh tokens, and none for bearer tokens', async () => {
      const bound = (await token(await validProof(key))).json() as { access_token: string; refresh_token: string };
      const bearer = (await token(undefined)).json() as { access_token: string; token_type: string };
      expect(bearer.token_type).toBe('Bearer');
      const introspect = async (t: string) =>
        (await p.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...FORM, authorization: basic(c.clientId, c.secret) }, payload: form({ token: t }) })).json() as Record<
          string,
          unknown
        >;
      expect(await introspect(bound.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
      expect(await introspect(bound.refresh_token)).toMatchObject({ active: true, token_type: 'refresh_token', cnf: { jkt } });
      const plain = await introspect(bearer.access_token);
      expect(plain).toMatchObject({ active: true, token_type: 'Bearer' });
      expect(plain).not.toHaveProperty('cnf');
    });

    if (env.DPOP_NONCE === 'true') {
      it('DPOP_NONCE: a proof without the nonce, or with a stale or made-up one, gets 400 use_dpop_nonce and a DPoP-Nonce header', async () => {
        const missing = await token(await proof(key, p.clock.now()));
        expectDpopError(missing, 'use_dpop_nonce');
        const nonce = missing.headers['dpop-nonce'] as string;
        expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expectDpopError(await token(await proof(key, p.clock.now(), { nonce: 'made-up' })), 'use_dpop_nonce');
        p.clock.advance(125);
        const stale = await token(await proof(key, p.clock.now(), { nonce }));
        expectDpopError(stale, 'use_dpop_nonce');
        expect(stale.headers['dpop-nonce']).not.toBe(nonce);
      });
    }
  });
}

runs({}, '');
runs({ DPOP_NONCE: 'true' }, ' with DPOP_NONCE=true');
