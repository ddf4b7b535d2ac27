// The servers under test: how to start them and what their token requests and tokens look like.
import { randomBytes } from 'node:crypto';
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import type { BenchClient } from './child-protocol.js';
import { AUDIENCE, SCOPE } from './constants.js';
import type { ServerKey } from './options.js';

export interface ServerSpec {
  key: ServerKey;
  name: string;
  /** The child's module in bench/, without extension. */
  entry: string;
  /** More environment for the child, beyond what spawn.ts gives every server. */
  env?: Record<string, string>;
  tokenPath: string;
  metadataPath: string;
  /** A secret that must be refused. */
  wrongSecret: () => string;
  /** The token request's form body. */
  body: string;
  /** Server-specific claim checks: true, or what is wrong. */
  checkClaims: (payload: JWTPayload, header: ProtectedHeaderParameters, client: BenchClient) => (true | string)[];
}

/** `portcullisSecret` makes secrets of Portcullis' format (from the built server). */
export function serverSpecs(portcullisSecret: () => string): ServerSpec[] {
  const portcullis: ServerSpec = {
    key: 'portcullis',
    name: 'Portcullis',
    entry: 'portcullis-server',
    tokenPath: '/oauth/token',
    metadataPath: '/.well-known/oauth-authorization-server',
    wrongSecret: portcullisSecret,
    body: `grant_type=client_credentials&audience=${encodeURIComponent(AUDIENCE)}`,
    // RFC 9068 and docs/http-api.md §2: typ at+jwt, sub = client_id = the client, org_id, roles.
    checkClaims: (payload, header, client) => [
      header.typ === 'at+jwt' || `typ ${header.typ}`,
      payload.client_id === client.id || `client_id ${payload.client_id}`,
      payload.sub === client.id || `sub ${payload.sub}`,
      typeof payload.org_id === 'string' || 'org_id missing',
      (Array.isArray(payload.roles) && payload.roles.length > 0) || 'roles missing',
    ],
  };
  return [
    portcullis,
    // --counting-cost: the same server, its usage counter a no-op (bench/portcullis-server.ts); Portcullis / it is what counting costs.
    { ...portcullis, key: 'portcullis-counting-off', name: 'Portcullis, counting off', env: { BENCH_COUNTING: 'off' } },
    {
      key: 'oidc-provider',
      name: 'oidc-provider',
      entry: 'oidc-provider-server',
      tokenPath: '/token', // the provider's default routes.token
      metadataPath: '/.well-known/openid-configuration',
      wrongSecret: () => randomBytes(32).toString('base64url'),
      // oidc-provider v9 grants no resource-server scope unless asked for (lib/actions/grants/client_credentials.js).
      body: `grant_type=client_credentials&resource=${encodeURIComponent(AUDIENCE)}&scope=${encodeURIComponent(SCOPE)}`,
      checkClaims: (payload, header, client) => [
        header.typ === 'at+jwt' || `typ ${header.typ}`,
        payload.client_id === client.id || `client_id ${payload.client_id}`,
        payload.sub === client.id || `sub ${payload.sub}`,
      ],
    },
    {
      key: 'reference',
      name: 'reference',
      entry: 'reference-server',
      tokenPath: '/token',
      metadataPath: '/.well-known/openid-configuration',
      wrongSecret: () => randomBytes(32).toString('base64url'),
      body: `grant_type=client_credentials&resource=${encodeURIComponent(AUDIENCE)}`,
      checkClaims: (payload, header, client) => [
        header.typ === 'at+jwt' || `typ ${header.typ}`,
        payload.client_id === client.id || `client_id ${payload.client_id}`,
        payload.sub === client.id || `sub ${payload.sub}`,
      ],
    },
  ];
}
