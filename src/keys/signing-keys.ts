import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createPrivateKey } from 'node:crypto';
import type { Kysely } from 'kysely';
import { notifyChange } from '../store/changes.js';
import type { SigningAlg } from '../config.js';
import type { Database, SigningKeyRow } from '../store/schema.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption.js';
import type { SigningKey } from './key-ring.js';

const GENERATE_OPTIONS: Record<SigningAlg, Parameters<typeof generateKeyPair>[1]> = {
  ES256: { extractable: true },
  RS256: { extractable: true, modulusLength: 2048 },
  EdDSA: { extractable: true, crv: 'Ed25519' },
};

/** Generates a key pair and stores it, private half encrypted, starting to sign at `activatesAt`. */
export async function createSigningKey(
  db: Kysely<Database>,
  kek: Buffer,
  alg: SigningAlg,
  activatesAt: Date,
): Promise<{ kid: string; alg: SigningAlg; activatesAt: Date }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, GENERATE_OPTIONS[alg]);
  const publicJwk = await exportJWK(publicKey);
  // RFC 7638 thumbprint: a stable kid that any party can recompute from the key itself.
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('signing_keys')
      .values({
        kid,
        alg,
        public_jwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
        private_key_enc: encryptPrivateKey(kek, kid, JSON.stringify(privateJwk)),
        activates_at: activatesAt,
      })
      .execute();
    await notifyChange(trx, { kind: 'keys' });
  });
  return { kid, alg, activatesAt };
}

export async function loadSigningKeys(db: Kysely<Database>, kek: Buffer): Promise<SigningKey[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().execute();
  return Promise.all(rows.map((row) => toSigningKey(row, kek)));
}

/**
 * Makes sure a key exists: the first start generates one that signs at once.
 * Two processes starting together on one PostgreSQL database may both generate one;
 * both keys are then published and the later-activating one signs, which is harmless.
 */
export async function ensureSigningKey(db: Kysely<Database>, kek: Buffer, alg: SigningAlg, now: Date): Promise<boolean> {
  const existing = await db.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst();
  if (existing) return false;
  await createSigningKey(db, kek, alg, now);
  return true;
}

async function toSigningKey(row: SigningKeyRow, kek: Buffer): Promise<SigningKey> {
  const privateJwk = JSON.parse(decryptPrivateKey(kek, row.kid, row.private_key_enc)) as JWK;
  const privateKey = (await importJWK(privateJwk, row.alg)) as CryptoKey;
  const publicJwk = typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as JWK) : (row.public_jwk as JWK);
  const publicKey = (await importJWK(publicJwk, row.alg)) as CryptoKey;
  const privateKeyObject = createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  return { kid: row.kid, alg: row.alg, publicJwk, privateKey, privateKeyObject, publicKey, createdAt: row.created_at, activatesAt: row.activates_at };
}
