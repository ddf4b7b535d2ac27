import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SigningKey } from '../../src/keys/key-ring.js';
import { JwsSigner } from '../../src/tokens/jws-signer.js';

type Alg = 'ES256' | 'RS256' | 'EdDSA';

function testKey(alg: Alg, kid: string): SigningKey & { publicKeyObject: KeyObject } {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  // Only what the signer reads; the rest of a SigningKey is not involved.
  return { kid, alg, privateKeyObject: pair.privateKey, publicKeyObject: pair.publicKey } as unknown as SigningKey & { publicKeyObject: KeyObject };
}

/** The encoded protected header the tests sign under (the signer takes it as given). */
const HEADER = Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url');

/**
 * Whether `token` is the compact JWS of `payload` under HEADER, its signature checked over the
 * signing input the way a verifier would (RFC 7515 §5.2; RFC 7518 §3.4 for ES256).
 */
function valid(key: SigningKey & { publicKeyObject: KeyObject }, token: string, payload: string): boolean {
  const [header, body, signature, ...rest] = token.split('.');
  if (header !== HEADER || body === undefined || signature === undefined || rest.length > 0) return false;
  if (Buffer.from(body, 'base64url').toString() !== payload) return false;
  const digest = key.alg === 'EdDSA' ? null : 'sha256';
  return verify(digest, Buffer.from(`${header}.${body}`), { key: key.publicKeyObject, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}

const signers: JwsSigner[] = [];
function signer(threads: number, onError?: (err: unknown) => void): JwsSigner {
  const s = new JwsSigner(threads, onError);
  signers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(signers.splice(0).map((s) => s.close()));
});

describe.each([0, 1, 2])('JwsSigner with %i signer threads', (threads) => {
  it.each<Alg>(['ES256', 'RS256', 'EdDSA'])('signs %s so that the public key verifies it', async (alg) => {
    const key = testKey(alg, `k-${alg}`);
    const s = signer(threads);
    const payload = '{"sub":"x","name":"Zoë"}';
    const token = await s.sign(key, HEADER, payload);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(valid(key, token, payload)).toBe(true);
    const [header, body, signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${Buffer.from('{"sub":"y","name":"Zoë"}').toString('base64url')}.${signature}`;
    expect(valid(key, forged, '{"sub":"y","name":"Zoë"}')).toBe(false);
    expect(body).toBe(Buffer.from(payload).toString('base64url'));
    if (alg === 'ES256') expect(Buffer.from(signature, 'base64url')).toHaveLength(64); // r‖s, not DER
  });

  it('answers every request of a burst with its own signature, across keys', async () => {
    const keys = [testKey('ES256', 'a'), testKey('EdDSA', 'b')];
    const s = signer(threads);
    const jobs = Array.from({ length: 300 }, (_, i) => ({ key: keys[i % 2]!, payload: `{"n":${i}}` }));
    const tokens = await Promise.all(jobs.map((j) => s.sign(j.key, HEADER, j.payload)));
    for (const [i, j] of jobs.entries()) expect(valid(j.key, tokens[i]!, j.payload)).toBe(true);
  });

  it('refuses an algorithm it does not know', async () => {
    const key = { ...testKey('ES256', 'x'), alg: 'HS256' };
    await expect(signer(threads).sign(key, HEADER, '{}')).rejects.toThrow(/HS256/);
  });
});

describe('JwsSigner threads', () => {
  it('start with the first signature, not before (a process that signs nothing has none)', async () => {
    const s = signer(2);
    expect(s.liveThreads).toBe(0);
    const key = testKey('ES256', 'k');
    expect(valid(key, await s.sign(key, HEADER, 'first'), 'first')).toBe(true);
    expect(s.liveThreads).toBe(2);
  });

  it('never start once closed: signing goes on, on the calling thread', async () => {
    const s = signer(1);
    await s.close();
    const key = testKey('ES256', 'k');
    expect(valid(key, await s.sign(key, HEADER, 'late'), 'late')).toBe(true);
    expect(s.liveThreads).toBe(0);
  });
});

describe('JwsSigner when a thread dies', () => {
  it('signs on the main thread from then on, and says so once', async () => {
    const errors: unknown[] = [];
    const s = signer(1, (err) => errors.push(err));
    const key = testKey('ES256', 'k');
    expect(valid(key, await s.sign(key, HEADER, 'before'), 'before')).toBe(true);
    const { worker } = (s as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads[0]!;
    const inFlight = s.sign(key, HEADER, 'in flight');
    await worker.terminate();
    expect(valid(key, await inFlight, 'in flight')).toBe(true);
    expect(s.liveThreads).toBe(0);
    expect(valid(key, await s.sign(key, HEADER, 'after'), 'after')).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('close() stops the threads and leaves nothing unanswered', async () => {
    const s = signer(1);
    const key = testKey('ES256', 'k');
    const pending = Array.from({ length: 20 }, (_, i) => s.sign(key, HEADER, `p${i}`));
    await s.close();
    const tokens = await Promise.all(pending);
    for (const [i, token] of tokens.entries()) expect(valid(key, token, `p${i}`)).toBe(true);
  });
});
