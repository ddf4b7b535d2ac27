import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authorizationServerMetadata } from '../oauth/metadata.js';
import type { Clock } from '../clock.js';
import type { KeyService } from '../keys/key-service.js';

/**
 * Discovery: RFC 8414 metadata (also at the OpenID path, where most client libraries
 * look first) and the JWK Set. The JWKS may be cached for 5 minutes, which is less
 * than KEY_ACTIVATION_DELAY's default, so verifiers see a new key before it signs.
 */
export async function wellKnownRoutes(app: FastifyInstance, deps: { issuer: string; grantTypes: string[]; signingKeys: KeyService; clock: Clock }): Promise<void> {
  const metadata = authorizationServerMetadata(deps.issuer, deps.grantTypes);
  for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const operationId = url.endsWith('openid-configuration') ? 'getOpenIdConfiguration' : 'getAuthorizationServerMetadata';
    app.get(url, { schema: { operationId, summary: 'Authorization server metadata (RFC 8414)', security: [], tags: ['discovery'] } }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(metadata),
    );
  }

  const Jwk = Type.Object({ kid: Type.String(), alg: Type.String(), use: Type.Literal('sig'), kty: Type.String() }, { additionalProperties: true });
  app.get(
    '/.well-known/jwks.json',
    { schema: { operationId: 'getJwks', security: [], summary: 'Public signing keys (RFC 7517)', tags: ['discovery'], response: { 200: Type.Object({ keys: Type.Array(Jwk) }) } } },
    async (_request, reply) => {
      const keys = deps.signingKeys.ring.published(deps.clock.now()).map((k) => k.publicJwk);
      return reply.header('cache-control', 'public, max-age=300').send({ keys });
    },
  );
}
