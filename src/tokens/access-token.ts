import type { KeyRing, SigningKey } from '../keys/key-ring.js';
import type { JwsSigner } from './jws-signer.js';
import { newTokenId } from './token-id.js';

/** The claims of an access token (RFC 9068 §2.2 plus ours: `org_id`, `roles`). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  org_id: string;
  scope: string;
  roles: string[];
  iat: number;
  exp: number;
  jti: string;
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to. */
  cnf?: { jkt: string };
}

export interface TokenRequestFacts {
  issuer: string;
  clientId: string;
  orgId: string;
  audience: string;
  scope: string[];
  roles: string[];
  ttlSeconds: number;
  now: Date;
  /** The client's `token_claims`: added, never replacing a claim above (their names are refused on input). */
  extra?: Readonly<Record<string, string | number | boolean>>;
  /** The DPoP key's thumbprint, for a bound token. */
  jkt?: string | undefined;
}

/** Builds the claims: `sub` is the client (RFC 9068 §2.2 for client-credentials tokens), `jti` 128 random bits. */
export function accessTokenClaims(f: TokenRequestFacts): AccessTokenClaims {
  const iat = Math.floor(f.now.getTime() / 1000);
  return {
    // First, so that the token's own claims win even over a name that slipped past the input check.
    ...f.extra,
    iss: f.issuer,
    sub: f.clientId,
    aud: f.audience,
    client_id: f.clientId,
    org_id: f.orgId,
    scope: f.scope.join(' '),
    roles: f.roles,
    iat,
    exp: iat + f.ttlSeconds,
    jti: newTokenId(),
    ...(f.jkt ? { cnf: { jkt: f.jkt } } : {}),
  };
}

const headers = new WeakMap<SigningKey, string>();

/**
 * Signs with the key active at `now`, header `typ: at+jwt` (RFC 9068 §2.1), as a JWS
 * compact serialization (RFC 7515 §7.1). node:crypto's synchronous sign, not jose's
 * WebCrypto path: measured, it issues about 40% more tokens per second on the hot
 * path (docs/performance.md); and on a signer thread when there is one (JwsSigner).
 * Every test verifies the result with jose against the served JWKS.
 */
export function signAccessToken(signer: JwsSigner, keys: KeyRing, claims: AccessTokenClaims, now: Date): Promise<string> {
  const key = keys.signingKey(now);
  let header = headers.get(key);
  if (!header) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString('base64url');
    headers.set(key, header);
  }
  return signer.sign(key, header, JSON.stringify(claims));
}
