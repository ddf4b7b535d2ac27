import { SignJWT } from 'jose';
import type { KeyRing } from '../keys/key-ring.js';
import { randomBase62 } from '../ids.js';

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
}

/** Builds the claims: `sub` is the client (RFC 9068 §2.2 for client-credentials tokens), `jti` 128 random bits. */
export function accessTokenClaims(f: TokenRequestFacts): AccessTokenClaims {
  const iat = Math.floor(f.now.getTime() / 1000);
  return {
    iss: f.issuer,
    sub: f.clientId,
    aud: f.audience,
    client_id: f.clientId,
    org_id: f.orgId,
    scope: f.scope.join(' '),
    roles: f.roles,
    iat,
    exp: iat + f.ttlSeconds,
    jti: randomBase62(128),
  };
}

/** Signs with the key active at `now`, header `typ: at+jwt` (RFC 9068 §2.1). */
export async function signAccessToken(keys: KeyRing, claims: AccessTokenClaims, now: Date): Promise<string> {
  const key = keys.signingKey(now);
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
}
