// #region docs:fastify-imports
import { createAccessTokenVerifier, type VerifierOptions } from '@portcullis/resource';
import { requirePermissions } from '@portcullis/resource/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
// #endregion

export interface MeterApiOptions {
  /** The Portcullis issuer, e.g. http://localhost:8080. */
  issuer: string;
  /** This API's identifier in Portcullis, e.g. https://meters.example.com/. */
  audience: string;
  logger?: boolean;
  /** Accept only DPoP-bound tokens with their proofs (RFC 9449): a stolen token is useless without the client's key. */
  requireDpop?: boolean;
  /** Further verifier settings (introspection, JWKS cache…). */
  verifier?: Partial<VerifierOptions>;
}

export interface Reading {
  meter_id: string;
  value: number;
  at: string;
  recorded_by: string;
}

/**
 * A meter-readings API. Reading needs `meters:read`, recording needs `meters:write`; each
 * organization sees only its own meters (the token's `org_id` scopes the data).
 */
export async function buildMeterApi(options: MeterApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  const readings = new Map<string, Reading[]>();
  const keyOf = (org: string | undefined, meterId: string) => `${org ?? ''}/${meterId}`;
  const readingsOf = (org: string | undefined, meterId: string) => (readings.get(keyOf(org, meterId)) ?? []).slice(-100);
  const { issuer, audience } = options;
  const dpop = { required: options.requireDpop ?? false };

  app.get('/healthz', async () => ({ ok: true }));

  // #region docs:fastify
  // With dpop.required, bearer tokens are refused: only DPoP-bound tokens, with their proofs, pass.
  const verifier = createAccessTokenVerifier({ issuer, audience, dpop, ...options.verifier });

  app.get<{ Params: { meterId: string } }>(
    '/meters/:meterId/readings',
    // onRequest: the token is checked before the request is even parsed.
    { onRequest: requirePermissions(verifier, 'meters:read') },
    async (request) => {
      const { organizationId } = request.accessToken!;
      return { meter_id: request.params.meterId, readings: readingsOf(organizationId, request.params.meterId) };
    },
  );
  // #endregion

  app.post<{ Params: { meterId: string }; Body: { value: number; at?: string } }>(
    '/meters/:meterId/readings',
    {
      onRequest: requirePermissions(verifier, 'meters:write'),
      schema: {
        body: {
          type: 'object',
          required: ['value'],
          additionalProperties: false,
          properties: { value: { type: 'number' }, at: { type: 'string', format: 'date-time' } },
        },
      },
    },
    async (request, reply) => {
      const { meterId } = request.params;
      const token = request.accessToken!;
      const reading: Reading = { meter_id: meterId, value: request.body.value, at: request.body.at ?? new Date().toISOString(), recorded_by: token.clientId };
      const key = keyOf(token.organizationId, meterId);
      readings.set(key, [...(readings.get(key) ?? []), reading].slice(-1000));
      return reply.code(201).send(reading);
    },
  );

  return app;
}
