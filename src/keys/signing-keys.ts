import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createPrivateKey } from 'node:crypto';
import type { SigningAlg } from '../config.js';
import type { Tx, Repositories } from '../store/repositories/index.js';
import type { SigningKeyRow } from '../store/repositories/signing-keys.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption.js';
import type { SigningKey } from './key-ring.js';

const GENERATE_OPTIONS: Record<SigningAlg, Parameters<typeof generateKeyPair>[1]> = {
  ES256: { extractable: true },
  RS256: { extractable: true, modulusLength: 2048 },
  EdDSA: { extractable: true, crv: 'Ed25519' },
};

/** Generates a key pair and stores it in `tx`, private half encrypted, starting to sign at `activatesAt`. */
export async function createSigningKey(tx: Tx, kek: Buffer, alg: SigningAlg, activatesAt: Date): Promise<{ kid: string; alg: SigningAlg; activatesAt: Date }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, GENERATE_OPTIONS[alg]);
  const publicJwk = await exportJWK(publicKey);
  // RFC 7638 thumbprint: a stable kid that any party can recompute from the key itself.
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  await tx.signingKeys.insert({ kid, alg, publicJwk: { ...publicJwk, kid, alg, use: 'sig' }, privateKeyEnc: encryptPrivateKey(kek, kid, JSON.stringify(privateJwk)), activatesAt });
  return { kid, alg, activatesAt };
}

export async function loadSigningKeys(repos: Repositories, kek: Buffer): Promise<SigningKey[]> {
  return Promise.all((await repos.signingKeys.all()).map((row) => toSigningKey(row, kek)));
}

async function toSigningKey(row: SigningKeyRow, kek: Buffer): Promise<SigningKey> {
  const privateJwk = JSON.parse(decryptPrivateKey(kek, row.kid, row.private_key_enc)) as JWK;
  const privateKey = (await importJWK(privateJwk, row.alg)) as CryptoKey;
  const publicJwk = typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as JWK) : (row.public_jwk as JWK);
  const publicKey = (await importJWK(publicJwk, row.alg)) as CryptoKey;
  const privateKeyObject = createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  return { kid: row.kid, alg: row.alg, publicJwk, privateKey, privateKeyObject, publicKey, createdAt: row.created_at, activatesAt: row.activates_at };
}
