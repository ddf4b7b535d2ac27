import type { Executor } from '../executor.js';
import type { SigningKeyRow } from '../schema.js';

export type { SigningKeyRow };

/** Signing keys: public JWKs and sealed private keys (keys/key-encryption.ts). Platform-wide. */
export class SigningKeyRepository {
  constructor(private readonly db: Executor) {}

  /** Every key (a handful of rows). */
  async all(): Promise<SigningKeyRow[]> {
    return this.db.selectFrom('signing_keys').selectAll().execute();
  }

  async any(): Promise<boolean> {
    return (await this.db.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst()) !== undefined;
  }

  async insert(key: { kid: string; alg: string; publicJwk: Record<string, unknown>; privateKeyEnc: string; activatesAt: Date }): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({ kid: key.kid, alg: key.alg, public_jwk: JSON.stringify(key.publicJwk), private_key_enc: key.privateKeyEnc, activates_at: key.activatesAt })
      .execute();
  }
}
