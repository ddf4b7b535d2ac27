import { KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, type SigningKey } from '../../src/keys/key-ring.js';

const MAX_TTL = 3600;
const SKEW = 60;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(ms);
const s = (seconds: number) => seconds * 1000;

async function key(kid: string, createdAt: number, activatesAt: number): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return {
    kid,
    alg: 'ES256',
    publicJwk: { ...(await exportJWK(publicKey)), kid },
    privateKey,
    privateKeyObject: KeyObject.from(privateKey),
    publicKey,
    createdAt: at(createdAt),
    activatesAt: at(activatesAt),
  };
}

describe('KeyRing', () => {
  let old: SigningKey;
  let successor: SigningKey;
  let ring: KeyRing;
  // `old` signs from T0; a rotation at T0+1000 s publishes `successor`, which signs 600 s later.
  const rotatedAt = T0 + s(1000);
  const successorActivates = rotatedAt + s(600);
  const oldGone = successorActivates + s(MAX_TTL + SKEW);

  beforeAll(async () => {
    old = await key('old', T0, T0);
    successor = await key('successor', rotatedAt, successorActivates);
    // Given out of order on purpose: the ring orders by activation.
    ring = new KeyRing([successor, old], MAX_TTL);
  });

  const kids = (keys: readonly SigningKey[]) => keys.map((k) => k.kid);

  it('with one key: active from its activation, and it signs', () => {
    const single = new KeyRing([old], MAX_TTL);
    expect(single.size).toBe(1);
    expect(single.stateOf(old, at(T0 - 1))).toBe('next');
    expect(single.stateOf(old, at(T0))).toBe('active');
    expect(single.stateOf(old, at(T0 + s(10 * 365 * 86400)))).toBe('active');
    expect(single.signingKey(at(T0)).kid).toBe('old');
    expect(kids(single.published(at(T0)))).toEqual(['old']);
  });

  it('refuses to sign before any key is active', () => {
    expect(() => ring.signingKey(at(T0 - 1))).toThrow('no signing key is active yet');
  });

  it('publishes the new key before it signs', () => {
    const now = at(rotatedAt + 1);
    expect(ring.stateOf(successor, now)).toBe('next');
    expect(ring.stateOf(old, now)).toBe('active');
    expect(ring.signingKey(now).kid).toBe('old');
    expect(kids(ring.published(now))).toEqual(['old', 'successor']);

    const justBefore = at(successorActivates - 1);
    expect(ring.stateOf(successor, justBefore)).toBe('next');
    expect(ring.signingKey(justBefore).kid).toBe('old');
  });

  it('switches signing to the new key when it activates; the old one is retired but still published', () => {
    const now = at(successorActivates);
    expect(ring.stateOf(successor, now)).toBe('active');
    expect(ring.stateOf(old, now)).toBe('retired');
    expect(ring.signingKey(now).kid).toBe('successor');
    expect(kids(ring.published(now))).toEqual(['old', 'successor']);
  });

  it('keeps the old key published until successor.activatesAt + maxTokenTtl + 60 s, then drops it', () => {
    const lastMoment = at(oldGone - 1);
    expect(ring.stateOf(old, lastMoment)).toBe('retired');
    expect(kids(ring.published(lastMoment))).toEqual(['old', 'successor']);

    expect(ring.stateOf(old, at(oldGone))).toBe('expired');
    expect(kids(ring.published(at(oldGone)))).toEqual(['successor']);
    expect(ring.signingKey(at(oldGone)).kid).toBe('successor');
    expect(ring.stateOf(successor, at(oldGone))).toBe('active');
  });

  it('publishedKey finds a key by kid only while it is published', () => {
    expect(ring.publishedKey('successor', at(rotatedAt))?.kid).toBe('successor');
    expect(ring.publishedKey('old', at(oldGone - 1))?.kid).toBe('old');
    expect(ring.publishedKey('old', at(oldGone))).toBeUndefined();
    expect(ring.publishedKey('unknown', at(rotatedAt))).toBeUndefined();
  });

  it('uses the ring’s maxTokenTtl for the retirement window', () => {
    const shortRing = new KeyRing([old, successor], 300);
    expect(shortRing.stateOf(old, at(successorActivates + s(300 + SKEW) - 1))).toBe('retired');
    expect(shortRing.stateOf(old, at(successorActivates + s(300 + SKEW)))).toBe('expired');
  });

  it('signingKey picks the newest activated key, and retirement runs from the direct successor', async () => {
    const third = await key('third', successorActivates + s(100), successorActivates + s(200));
    const three = new KeyRing([third, old, successor], MAX_TTL);
    expect(kids(three.all())).toEqual(['old', 'successor', 'third']);
    expect(three.signingKey(at(successorActivates + s(199))).kid).toBe('successor');
    expect(three.signingKey(at(successorActivates + s(200))).kid).toBe('third');
    // `old` retired when `successor` activated, not when `third` did.
    expect(three.stateOf(old, at(oldGone - 1))).toBe('retired');
    expect(three.stateOf(old, at(oldGone))).toBe('expired');
    expect(three.stateOf(successor, at(oldGone))).toBe('retired');
    expect(kids(three.published(at(oldGone)))).toEqual(['successor', 'third']);
    expect(kids(three.published(at(successorActivates + s(200 + MAX_TTL + SKEW))))).toEqual(['third']);
  });
});
