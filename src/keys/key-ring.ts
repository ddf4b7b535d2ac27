import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
  /** The same private key for node:crypto's synchronous sign (the token hot path). */
  privateKeyObject: KeyObject;
  /** For verifying our own tokens (management API bearer tokens, introspection). */
  publicKey: CryptoKey;
  createdAt: Date;
  activatesAt: Date;
}

export type KeyState = 'next' | 'active' | 'retired' | 'expired';

/** Seconds a retired key stays published past the longest token lifetime, for clock skew. */
const PUBLISH_SKEW_SECONDS = 60;

/**
 * The signing keys and which of them signs and which are published, at any instant.
 * Everything follows from each key's `activatesAt`: a key is `next` (published, not yet
 * signing) until it activates, then `active` until its successor activates, then
 * `retired` (still published) until the last token it can have signed has expired,
 * then `expired`. So rotation needs no state changes in the database, and every
 * process of a cluster agrees without talking.
 */
export class KeyRing {
  private readonly keys: SigningKey[];

  constructor(
    keys: SigningKey[],
    /** The longest access-token lifetime any API can get, in seconds. */
    private readonly maxTokenTtl: number,
  ) {
    this.keys = [...keys].sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime() || a.kid.localeCompare(b.kid));
  }

  get size(): number {
    return this.keys.length;
  }

  stateOf(key: SigningKey, now: Date): KeyState {
    const t = now.getTime();
    if (key.activatesAt.getTime() > t) return 'next';
    const successor = this.successorOf(key, now);
    if (!successor) return 'active';
    const publishedUntil = successor.activatesAt.getTime() + (this.maxTokenTtl + PUBLISH_SKEW_SECONDS) * 1000;
    return t < publishedUntil ? 'retired' : 'expired';
  }

  /** The key that signs at `now`: the latest one already activated. */
  signingKey(now: Date): SigningKey {
    let current: SigningKey | undefined;
    for (const key of this.keys) {
      if (key.activatesAt.getTime() <= now.getTime()) current = key;
    }
    if (!current) throw new Error('no signing key is active yet');
    return current;
  }

  /** Keys a verifier may meet: `next`, `active` and `retired` ones (RFC 7517 JWK Set). */
  published(now: Date): SigningKey[] {
    return this.keys.filter((k) => this.stateOf(k, now) !== 'expired');
  }

  /** A key a verifier may use now, by kid. */
  publishedKey(kid: string, now: Date): SigningKey | undefined {
    const key = this.keys.find((k) => k.kid === kid);
    return key && this.stateOf(key, now) !== 'expired' ? key : undefined;
  }

  all(): readonly SigningKey[] {
    return this.keys;
  }

  private successorOf(key: SigningKey, now: Date): SigningKey | undefined {
    // The key that took over from `key`: the first one activating after it, and already active.
    return this.keys.find((k) => k.activatesAt.getTime() > key.activatesAt.getTime() && k.activatesAt.getTime() <= now.getTime());
  }
}
