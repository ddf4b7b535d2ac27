import type { CatalogCache } from '../catalog/catalog-cache.js';
import { addSeconds, type Clock } from '../clock.js';
import type { SigningAlg } from '../config.js';
import type { Change, ChangeFeed, ChangeSubscriber } from '../store/change-feed.js';
import type { Data } from '../store/repositories/index.js';
import { serially } from '../serially.js';
import { KeyRing } from './key-ring.js';
import { createSigningKey, loadSigningKeys } from './signing-keys.js';

export interface KeySettings {
  alg: SigningAlg;
  /** ACCESS_TOKEN_TTL: with every API's own TTL, how long a retired key stays published. */
  defaultTokenTtl: number;
}

/**
 * The signing keys of this process (a KeyRing) and their rotation. Follows the change feed:
 * a new key anywhere reloads the keys; a catalog change can lengthen the longest token
 * lifetime, and so how long retired keys stay published.
 */
export class KeyService implements ChangeSubscriber {
  private keys: KeyRing | undefined;
  private readonly reload = serially(async () => {
    this.keys = new KeyRing(await loadSigningKeys(this.data.read, this.kek), this.maxTokenTtl());
  });

  constructor(
    private readonly data: Data,
    private readonly feed: ChangeFeed,
    private readonly catalog: CatalogCache,
    private readonly kek: Buffer,
    private readonly settings: KeySettings,
    private readonly clock: Clock,
  ) {}

  /** The key ring; `load()` must have run. */
  get ring(): KeyRing {
    if (!this.keys) throw new Error('the signing keys are not loaded yet');
    return this.keys;
  }

  load(): Promise<void> {
    return this.reload();
  }

  /**
   * Makes sure a key exists: the first start generates one that signs at once. Two processes
   * starting together on one PostgreSQL database may both generate one; both keys are then
   * published and the later-activating one signs, which is harmless.
   */
  async ensureFirstKey(): Promise<boolean> {
    if (await this.data.read.signingKeys.any()) return false;
    await this.rotate(0);
    return true;
  }

  /** Publishes a new signing key that starts signing after `activationDelaySeconds` (`portcullis keys rotate`). */
  async rotate(activationDelaySeconds: number, alg: SigningAlg = this.settings.alg) {
    return this.data.transaction(async (tx) => {
      const key = await createSigningKey(tx, this.kek, alg, addSeconds(this.clock.now(), activationDelaySeconds));
      await this.feed.publish(tx, { kind: 'keys' });
      return key;
    });
  }

  async apply(change: Change): Promise<void> {
    if (change.kind === 'keys') await this.reload();
    else if (change.kind === 'catalog' && this.keys) this.keys = new KeyRing([...this.keys.all()], this.maxTokenTtl());
  }

  reset(): Promise<void> {
    return this.reload();
  }

  private maxTokenTtl(): number {
    return this.catalog.snapshot.maxTokenTtl(this.settings.defaultTokenTtl);
  }
}
