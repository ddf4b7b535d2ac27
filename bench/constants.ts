// Settings of the run that the bench and the servers it forks must agree on.
import { fileURLToPath } from 'node:url';

/** The checkout the bench runs from (the parent's view; the forked servers do not use it). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const ALGS = ['ES256', 'RS256', 'EdDSA'] as const;
export type Alg = (typeof ALGS)[number];

/** The resource server both servers issue tokens for (token `aud`). */
export const AUDIENCE = 'https://meters.bench.example/';
export const SCOPE = 'meters:read meters:write';

/** TOKEN_RATE_LIMIT for the run: the product's default (6000/min per client) would throttle a few clients hammering. */
export const RATE_LIMIT = 100_000_000;
