import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { InvalidInputError, type InputIssue } from '../errors/domain-errors.js';
import type { PublicJwk } from '../store/schema.js';

/**
 * The JWS algorithms a client may sign its assertions (RFC 7523 §3) and DPoP proofs (RFC 9449 §4.2)
 * with: asymmetric only, as both RFCs require for these uses; no `none`, no HMAC.
 */
export const CLIENT_SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

/** JWK members that belong to a private or symmetric key (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The public members kept per key type; anything else (x5c, key_ops, …) is not stored. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
};
const KEY_TYPES = Object.keys(PUBLIC_MEMBERS);

/** The algorithm a key's type and curve allow; RSA keys may serve RS256 or PS256. */
function algsFor(jwk: Record<string, unknown>): readonly string[] {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return ['ES256'];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA'];
  if (jwk.kty === 'RSA') return ['RS256', 'PS256'];
  return [];
}

/**
 * Checks a client's JWK Set and returns the keys as stored: public members only, each with a
 * `kid` (its RFC 7638 thumbprint when none was given) and `alg` and `use` when given. Refused,
 * with an issue naming the field: a private or symmetric key, a key type or curve we do not
 * verify (EC P-256, OKP Ed25519, RSA of at least 2048 bits), an `alg` outside
 * CLIENT_SIGNING_ALGS or not matching the key, a `use` other than `sig`, a key jose cannot
 * import, two keys with one `kid`. `at` is where the key list sits in the request body.
 */
export async function checkClientKeys(keys: readonly Record<string, unknown>[], at: readonly (string | number)[]): Promise<PublicJwk[]> {
  const issues: InputIssue[] = [];
  const stored: PublicJwk[] = [];
  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    const issue = (member: string | undefined, message: string) => issues.push({ path: member === undefined ? [...at, i] : [...at, i, member], message });
    const privateMember = PRIVATE_MEMBERS.find((m) => m in key);
    if (privateMember !== undefined) {
      issue(privateMember, `"${privateMember}" is a private key member: register the public key only (never send a private key)`);
      continue;
    }
    if (typeof key.kty !== 'string' || !KEY_TYPES.includes(key.kty)) {
      issue('kty', `kty must be one of ${KEY_TYPES.join(', ')}`);
      continue;
    }
    const allowed = algsFor(key);
    if (allowed.length === 0) {
      issue('crv', 'crv must be P-256 (EC) or Ed25519 (OKP)');
      continue;
    }
    if (key.alg !== undefined && !allowed.includes(key.alg as string)) {
      issue('alg', `alg must be one of ${allowed.join(', ')} for this key`);
      continue;
    }
    if (key.use !== undefined && key.use !== 'sig') {
      issue('use', 'use must be "sig" when present');
      continue;
    }
    const members = PUBLIC_MEMBERS[key.kty] ?? [];
    const missing = members.find((m) => typeof key[m] !== 'string');
    if (missing !== undefined) {
      issue(missing, `${missing} is required for a ${key.kty} key`);
      continue;
    }
    const jwk: PublicJwk = Object.fromEntries(members.map((m) => [m, key[m] as string]));
    if (jwk.kty === 'RSA' && Buffer.from(jwk.n ?? '', 'base64url').length < 256) {
      issue('n', 'RSA keys must have at least 2048 bits');
      continue;
    }
    try {
      // jose checks the members are a well-formed key of that type (a point on the curve, say).
      await importJWK(jwk as JWK, (key.alg as string | undefined) ?? allowed[0]);
    } catch (err) {
      issue(undefined, `not a usable public key: ${(err as Error).message}`);
      continue;
    }
    const kid = typeof key.kid === 'string' && key.kid !== '' ? key.kid : await calculateJwkThumbprint(jwk as JWK, 'sha256');
    if (kids.has(kid)) {
      issue('kid', `two keys have kid "${kid}"`);
      continue;
    }
    kids.add(kid);
    stored.push({ ...jwk, kid, ...(typeof key.alg === 'string' ? { alg: key.alg } : {}), ...(key.use === 'sig' ? { use: 'sig' } : {}) });
  }
  if (issues.length > 0) throw new InvalidInputError(`The JWK Set is not acceptable: ${issues.map((i) => i.message).join('; ')}.`, issues);
  return stored;
}

/** What an audit event says of a set of keys: their RFC 7638 thumbprints (never more is needed to tell them apart). */
export async function thumbprints(keys: readonly PublicJwk[]): Promise<string[]> {
  return Promise.all(keys.map((k) => calculateJwkThumbprint(k as JWK, 'sha256')));
}
