import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

/**
 * A new ES256 key for a `private_key_jwt` client: the private key as PKCS#8 PEM (for the
 * daemon, kept like any credential), and the public JWK to register with the client
 * (`PUT /api/v1/organizations/{org}/clients/{client_id}/jwks`), its `kid` the RFC 7638 thumbprint.
 */
export async function makeClientKey(): Promise<{ privateKeyPem: string; publicJwk: JWK }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const publicJwk: JWK = { ...jwk, alg: 'ES256', use: 'sig', kid: await calculateJwkThumbprint(jwk) };
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicJwk };
}
