import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { TEST_ISSUER, basic, form } from './portcullis.js';

/** POST /oauth/token with Basic auth and a form body (the common case). */
export function tokenRequest(app: FastifyInstance, client: { clientId: string; secret: string }, params: Record<string, string>, opts: { url?: string; remoteAddress?: string } = {}) {
  return app.inject({
    method: 'POST',
    url: opts.url ?? '/oauth/token',
    ...(opts.remoteAddress ? { remoteAddress: opts.remoteAddress } : {}),
    headers: { authorization: basic(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ grant_type: 'client_credentials', ...params }),
  });
}

/** Verifies an access token against the JWKS the app serves, as a resource server would. */
export async function verifyAccessToken(app: FastifyInstance, token: string, audience: string, now?: Date) {
  const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(jwks.statusCode).toBe(200);
  const keySet = createLocalJWKSet(jwks.json());
  const { payload, protectedHeader } = await jwtVerify(token, keySet, {
    issuer: TEST_ISSUER,
    audience,
    typ: 'at+jwt',
    ...(now ? { currentDate: now } : {}),
  });
  return { payload: payload as JWTPayload & Record<string, unknown>, header: protectedHeader };
}

export function kidOf(token: string): string | undefined {
  return decodeProtectedHeader(token).kid;
}
