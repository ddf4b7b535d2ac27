import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createTokenSource, OAuthError, type TokenSourceOptions } from '@portcullis/client';
import { createAccessTokenVerifier } from '@portcullis/resource';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/actor.js';
import { seedClient, type SeededClient } from '../helpers/portcullis.js';
import { recordingFetch, startSdkServer, type RealServer } from '../helpers/sdk.js';

const TOKEN = '/oauth/token';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface KeyClient {
  clientId: string;
  audience: string;
  /** The private key as Node made it, and as a JWK with its kid. */
  privateKey: KeyObject;
  privateJwk: JWK;
}

/** @portcullis/client without a client secret: private_key_jwt (RFC 7523 §2.2) against a real Portcullis. */
describe('@portcullis/client: private_key_jwt', () => {
  let server: RealServer;
  let base: SeededClient;

  /** A client of `base`'s organization and role, with no secret and one registered public key. */
  const keyClient = async (type: 'ec' | 'ed25519' | 'rsa'): Promise<KeyClient> => {
    const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const publicJwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk);
    const alg = type === 'ec' ? 'ES256' : type === 'rsa' ? 'RS256' : 'EdDSA';
    const { client } = await server.runtime.clients.create(
      base.orgId,
      { name: `keyed ${type} ${kid.slice(0, 6)}`, roles: [base.roleId], secret: false, jwks: { keys: [{ ...(publicJwk as { kty: string }), kid, alg, use: 'sig' }] } },
      SYSTEM_ACTOR,
    );
    return { clientId: client.client_id, audience: base.apiIdentifier, privateKey: pair.privateKey, privateJwk: { ...(pair.privateKey.export({ format: 'jwk' }) as JWK), kid } };
  };
  const sourceFor = (client: KeyClient, extra: Partial<TokenSourceOptions>) => {
    const recorder = recordingFetch();
    const source = createTokenSource({ issuer: server.issuer, clientId: client.clientId, audience: client.audience, fetch: recorder.fetch, sleep: async () => {}, ...extra });
    return { source, recorder };
  };

  beforeAll(async () => {
    server = await startSdkServer();
    base = await seedClient(server.runtime);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('authenticates with a signed assertion instead of a secret (key as a private JWK)', async () => {
    const client = await keyClient('ec');
    const { source, recorder } = sourceFor(client, { privateKey: client.privateJwk });
    const token = await source.getToken();
    const verified = await createAccessTokenVerifier({ issuer: server.issuer, audience: client.audience }).verify(token);
    expect(verified.clientId).toBe(client.clientId);

    const request = recorder.requests.find((r) => r.path === TOKEN);
    expect(request?.authorization).toBeNull();
    const body = new URLSearchParams(request?.body);
    expect([...body.keys()].sort()).toEqual(['audience', 'client_assertion', 'client_assertion_type', 'client_id', 'grant_type']);
    expect(body.get('client_assertion_type')).toBe(ASSERTION_TYPE);
    const assertion = body.get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'ES256', kid: client.privateJwk.kid });
    const claims = decodeJwt(assertion);
    expect(claims).toMatchObject({ iss: client.clientId, sub: client.clientId, aud: server.issuer });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(300);
  });

  it('signs a new assertion (new jti) for every token request, so none is a replay', async () => {
    const client = await keyClient('ec');
    const { source, recorder } = sourceFor(client, { privateKey: client.privateJwk });
    await source.getToken();
    await source.getToken({ forceRefresh: true });
    await source.getToken({ forceRefresh: true });
    const jtis = recorder.bodies(TOKEN).map((b) => decodeJwt(b.get('client_assertion') ?? '').jti);
    expect(new Set(jtis).size).toBe(3);
    expect(recorder.requests.filter((r) => r.path === TOKEN).map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('takes the key as a PKCS#8 PEM (with privateKeyId) or a CryptoKey', async () => {
    const client = await keyClient('ec');
    const pem = client.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const fromPem = sourceFor(client, { privateKey: pem, privateKeyId: client.privateJwk.kid ?? '' });
    await expect(fromPem.source.getToken()).resolves.toMatch(/^eyJ/);
    expect(decodeProtectedHeader(fromPem.recorder.bodies(TOKEN)[0]?.get('client_assertion') ?? '').kid).toBe(client.privateJwk.kid);
    const cryptoKey = await importJWK({ ...client.privateJwk, alg: 'ES256' }, 'ES256');
    const fromCryptoKey = sourceFor(client, { privateKey: cryptoKey as Exclude<typeof cryptoKey, Uint8Array>, privateKeyId: client.privateJwk.kid ?? '' });
    await expect(fromCryptoKey.source.getToken()).resolves.toMatch(/^eyJ/);
  });

  it.each([
    ['rsa', 'RS256'],
    ['ed25519', 'EdDSA'],
  ] as const)('signs with a %s key as %s', async (type, alg) => {
    const client = await keyClient(type);
    const { source, recorder } = sourceFor(client, { privateKey: client.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
    await expect(source.getToken()).resolves.toMatch(/^eyJ/);
    expect(decodeProtectedHeader(recorder.bodies(TOKEN)[0]?.get('client_assertion') ?? '').alg).toBe(alg);
  });

  it('surfaces an assertion signed by an unregistered key as invalid_client, without retrying', async () => {
    const client = await keyClient('ec');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const stranger = { ...(await exportJWK(privateKey)), kid: client.privateJwk.kid ?? '' };
    const { source, recorder } = sourceFor(client, { privateKey: stranger });
    const err = await source.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ code: 'invalid_client', status: 401, transient: false });
    expect(recorder.count(TOKEN)).toBe(1);
  });

  it('refuses settings with neither a secret nor a key, or a public key', async () => {
    const client = await keyClient('ec');
    expect(() => createTokenSource({ issuer: server.issuer, clientId: client.clientId, audience: client.audience })).toThrow(/clientSecret \(or privateKey\) is required/);
    const { d: _, ...publicJwk } = client.privateJwk;
    await expect(sourceFor(client, { privateKey: publicJwk }).source.getToken()).rejects.toThrow(/public key/);
  });
});
