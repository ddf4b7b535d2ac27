import { createPrivateKey } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';

/** How the client proves who it is at the token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/**
 * The private key of a `private_key_jwt` client: a `CryptoKey`, a private JWK (its `kid` and
 * `alg` are used when present), or a PKCS#8 PEM string (`-----BEGIN PRIVATE KEY-----`).
 */
export type ClientPrivateKey = oauth.CryptoKey | JWK | string;

export interface ClientAuthSettings {
  clientSecret?: string | undefined;
  privateKey?: ClientPrivateKey | undefined;
  privateKeyId?: string | undefined;
  authMethod?: ClientAuthMethod | undefined;
}

/** The method a token source uses: `private_key_jwt` with a key, else the secret over HTTP Basic. */
export function authMethodOf(settings: ClientAuthSettings): ClientAuthMethod {
  return settings.authMethod ?? (settings.privateKey !== undefined ? 'private_key_jwt' : 'client_secret_basic');
}

/**
 * The oauth4webapi client authentication for these settings. For `private_key_jwt`,
 * oauth4webapi signs a fresh assertion per request (RFC 7523 §3: `iss` = `sub` = client_id,
 * `aud` = the issuer, a random `jti`, `exp` one minute ahead).
 */
export async function clientAuthFor(settings: ClientAuthSettings): Promise<oauth.ClientAuth> {
  const method = authMethodOf(settings);
  if (method === 'private_key_jwt') {
    if (settings.privateKey === undefined) throw new TypeError('createTokenSource: authMethod private_key_jwt needs privateKey.');
    return oauth.PrivateKeyJwt(await importPrivateKey(settings.privateKey, settings.privateKeyId), EDDSA_AS_SERVERS_KNOW_IT);
  }
  if (!settings.clientSecret) throw new TypeError(`createTokenSource: authMethod ${method} needs clientSecret.`);
  return method === 'client_secret_post' ? oauth.ClientSecretPost(settings.clientSecret) : oauth.ClientSecretBasic(settings.clientSecret);
}

/**
 * oauth4webapi names Ed25519 signatures by the fully-specified "Ed25519" (RFC 9864); servers,
 * Portcullis among them, know the older "EdDSA" (RFC 8037), which means the same signature.
 * Used for client assertions and DPoP proofs.
 */
export const EDDSA_AS_SERVERS_KNOW_IT: oauth.ModifyAssertionOptions = {
  [oauth.modifyAssertion]: (header) => {
    if (header.alg === 'Ed25519') header.alg = 'EdDSA';
  },
};

async function importPrivateKey(input: ClientPrivateKey, kid: string | undefined): Promise<oauth.PrivateKey> {
  if (typeof input !== 'string' && !isJwk(input)) return { key: input, ...(kid !== undefined ? { kid } : {}) };
  // A PEM is read into a JWK by Node, so that both take the same path (and the algorithm follows from the key).
  const jwk: JWK = typeof input === 'string' ? (createPrivateKey(input).export({ format: 'jwk' }) as JWK) : input;
  if (typeof jwk.d !== 'string') throw new TypeError('createTokenSource: privateKey is a public key; private_key_jwt needs the private key.');
  const alg = jwk.alg ?? algorithmOf(jwk);
  const key = await importJWK({ ...jwk, alg }, alg);
  if (key instanceof Uint8Array) throw new TypeError('createTokenSource: privateKey must be an asymmetric key.');
  const keyId = kid ?? jwk.kid;
  return { key, ...(keyId !== undefined ? { kid: keyId } : {}) };
}

function isJwk(input: oauth.CryptoKey | JWK): input is JWK {
  return typeof (input as JWK).kty === 'string';
}

/** The JWS algorithm a JWK without `alg` is used with: the usual one for its key type (RFC 7518 §3.1, RFC 8037). */
function algorithmOf(jwk: JWK): string {
  if (jwk.kty === 'EC') {
    const byCurve: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
    const alg = byCurve[jwk.crv ?? ''];
    if (alg) return alg;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  throw new TypeError(`createTokenSource: cannot tell the algorithm of a ${jwk.kty} key${jwk.crv ? ` on ${jwk.crv}` : ''}; set its "alg".`);
}
