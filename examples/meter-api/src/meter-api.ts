import { createAccessTokenVerifier, type VerifierOptions } from '@portcullis/resource';
import { requirePermissions } from '@portcullis/resource/fastify';
import Fastify, { type FastifyInstance } from 'fastify';

export interface MeterApiOptions {
  /** The Portcullis issuer, e.g. http://localhost:8080. */
  issuer: string;
  /** This API's identifier in Portcullis, e.g. https://meters.example.com/. */
  audience: string;
  logger?: boolean;
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
  const verifier = createAccessTokenVerifier({ issuer: options.issuer, audience: options.audience, ...options.verifier });
  const readings = new Map<string, Reading[]>();
  const keyOf = (org: string | undefined, meterId: string) => `${org ?? ''}/${meterId}`;

  app.get('/healthz', async () => ({ ok: true }));

  app.get<{ Params: { meterId: string } }>(
    '/meters/:meterId/readings',
    // onRequest: the token is checked before the request is even parsed.
    { onRequest: requirePermissions(verifier, 'meters:read') },
    async (request) => {
      const { meterId } = request.params;
      return { meter_id: meterId, readings: (readings.get(keyOf(request.accessToken?.organizationId, meterId)) ?? []).slice(-100) };
    },
  );

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
