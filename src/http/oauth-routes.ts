import rateLimit from '@fastify/rate-limit';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ThrottledError } from '../errors/domain-errors.js';
import { InvalidDpopProofError, InvalidRequestError, OAUTH_ERROR_CODES, type OAuthErrorCode } from '../errors/oauth-error.js';
import type { ClientAuthenticator } from '../oauth/client-authenticator.js';
import { parseClientCredentials, type PresentedCredentials } from '../oauth/client-credentials-parser.js';
import type { Introspection } from '../oauth/introspection.js';
import type { Revocation } from '../oauth/revocation.js';
import type { TokenResponse as TokenAnswer } from '../oauth/grants/grant.js';
import { NO_STORE } from '../oauth/oauth-answer.js';
import type { TokenEndpoint } from '../oauth/token-endpoint.js';
import { throttledAddress } from '../throttle/address.js';
import type { Limiters } from '../throttle/limiters.js';
import { rateLimitStore } from './rate-limit-store.js';

export interface OAuthRouteDeps {
  tokenEndpoint: TokenEndpoint;
  authenticator: ClientAuthenticator;
  introspection: Introspection;
  revocation: Revocation;
  /** ALLOW_QUERY_CREDENTIALS. */
  allowQueryCredentials: boolean;
  /** TOKEN_RATE_LIMIT: token requests per client and address per minute; 0: no limit. */
  tokenRateLimit: number;
  /** Where TOKEN_RATE_LIMIT counts (Redis with REDIS_URL). */
  limiters: Limiters;
  /** Called for each request the token rate limit refuses (the metrics). */
  onRateLimited?: () => void;
  /** ISSUER: a DPoP proof's `htu` names ISSUER + the endpoint's path (behind a proxy too). */
  issuer: string;
}

/**
 * The `DPoP` header (RFC 9449 §4.1), which must come once: Node joins a repeated header with
 * commas, which no compact JWS holds.
 */
function dpopHeader(request: FastifyRequest): string | undefined {
  const value = request.headers.dpop;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.includes(',')) throw new InvalidDpopProofError('Send exactly one DPoP header.');
  return value;
}

const Param = (maxLength: number) => Type.Optional(Type.String({ maxLength }));

/** RFC 6749 §3.2: parameters are sent at most once (a repeated one arrives as an array and fails here). */
const TokenBody = Type.Object(
  {
    grant_type: Param(128),
    client_id: Param(256),
    client_secret: Param(256),
    client_assertion_type: Param(128),
    client_assertion: Param(8192),
    audience: Param(2048),
    resource: Param(2048),
    scope: Param(4096),
    refresh_token: Param(512),
  },
  { additionalProperties: true },
);
const TokenQuery = Type.Object({ client_id: Param(256), client_secret: Param(256) }, { additionalProperties: true });
const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Union([Type.Literal('Bearer'), Type.Literal('DPoP')]),
  expires_in: Type.Integer(),
  scope: Type.String(),
  refresh_token: Type.Optional(Type.String()),
});
const OAuthErrorBody = Type.Object({ error: Type.Union((Object.keys(OAUTH_ERROR_CODES) as OAuthErrorCode[]).map((code) => Type.Literal(code))), error_description: Type.String() });
const TokenOperationBody = Type.Object(
  { token: Param(8192), token_type_hint: Param(64), client_id: Param(256), client_secret: Param(256), client_assertion_type: Param(128), client_assertion: Param(8192) },
  { additionalProperties: true },
);
/** RFC 7009 §2.2: 200 with no content, whether or not the token was valid. */
const RevokedAnswer = Type.Unsafe<undefined>({ type: 'null', description: 'Revoked, or not a valid token of this client: the answer is the same' });
const IntrospectionResponse = Type.Object({ active: Type.Boolean() }, { additionalProperties: true });

type ParsedRequest = { body: Record<string, string | undefined> } & ({ credentials: PresentedCredentials | undefined } | { error: unknown });

declare module 'fastify' {
  interface FastifyRequest {
    /** The OAuth endpoints' parameters and credentials, once parsed (null before). */
    oauthParsed: ParsedRequest | null;
  }
}

/**
 * The token answer's JSON (the TokenResponse schema above), written directly: the access token is
 * our own compact JWS (base64url and dots: nothing to escape), so only the scope and the refresh
 * token go through JSON.stringify. The route's compiled serializer scanned the whole token for
 * characters to escape on every answer (measured on the token path, docs/performance.md).
 */
export function tokenAnswerJson(answer: TokenAnswer): string {
  const refresh = answer.refresh_token === undefined ? '' : `,"refresh_token":${JSON.stringify(answer.refresh_token)}`;
  return `{"access_token":"${answer.access_token}","token_type":"${answer.token_type}","expires_in":${answer.expires_in},"scope":${JSON.stringify(answer.scope)}${refresh}}`;
}

/** RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if they were omitted." */
function present(params: object | undefined): Record<string, string | undefined> {
  const out: Record<string, string> = {};
  if (params === undefined) return out;
  for (const k in params) {
    if (!Object.hasOwn(params, k)) continue;
    const v = (params as Record<string, unknown>)[k];
    if (typeof v === 'string' && v !== '') out[k] = v;
  }
  return out;
}

/** The token endpoint, at `/oauth/token` and, for platforms migrating from that flavour, `/oauth2/token`. */
export async function oauthRoutes(app: FastifyInstance, deps: OAuthRouteDeps): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    ...rateLimitStore(deps.limiters, 'token-rate'),
    // docs/http-api.md asks for Retry-After on a 429; x-ratelimit-* on every token answer would be bytes and work on the hot path.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });

  /**
   * The request's parameters and client credentials, parsed once: the rate limiter keys on
   * the client_id before the handler runs, and the handler must not parse them again. Kept on
   * the request itself, not in a WeakMap: a WeakMap's entries outlive a young-generation
   * collection, so every request's parse would be promoted to the old generation (measured:
   * the largest source of old-space garbage under load, docs/performance.md).
   */
  app.decorateRequest('oauthParsed', null);
  const parse = (request: FastifyRequest): ParsedRequest => {
    const known = request.oauthParsed;
    if (known) return known;
    const body = present(request.body as object | undefined);
    const query = present(request.query as object | undefined);
    let result: ParsedRequest;
    try {
      result = { body, credentials: parseClientCredentials({ authorization: request.headers.authorization, body, query }, { allowQuery: deps.allowQueryCredentials }) };
    } catch (err) {
      result = { body, error: err };
    }
    request.oauthParsed = result;
    return result;
  };
  /** The parsed credentials, or the invalid_request they amount to. */
  const credentialsOf = (request: FastifyRequest): PresentedCredentials | undefined => {
    const result = parse(request);
    if ('error' in result) throw result.error;
    return result.credentials;
  };
  /**
   * TOKEN_RATE_LIMIT counts before authentication, so per client_id *and* address: a request
   * naming a client counts against that client from its own address only, and whoever names a
   * client_id without its secret spends the allowance of their address, never the client's
   * elsewhere. A request without credentials counts per address. "Address" is the failure
   * throttles' (an IPv6 /64 counts as one).
   */
  const clientKey = (request: FastifyRequest): string => {
    const result = parse(request);
    const address = throttledAddress(request.ip);
    return 'credentials' in result && result.credentials ? `client:${result.credentials.clientId}@${address}` : `ip:${address}`;
  };

  for (const url of ['/oauth/token', '/oauth2/token']) {
    app.post<{ Body: Static<typeof TokenBody> | undefined; Querystring: Static<typeof TokenQuery> }>(
      url,
      {
        config: {
          oauth: true,
          quietOnSuccess: true,
          tokenEndpoint: true,
          ...(deps.tokenRateLimit > 0
            ? {
                rateLimit: {
                  max: deps.tokenRateLimit,
                  timeWindow: 60_000,
                  hook: 'preHandler',
                  keyGenerator: clientKey,
                  errorResponseBuilder: (_req: FastifyRequest, ctx: { ttl: number }) => new ThrottledError(ctx.ttl / 1000),
                  onExceeded: () => deps.onRateLimited?.(),
                },
              }
            : {}),
        },
        schema: {
          operationId: url === '/oauth/token' ? 'issueToken' : 'issueTokenOAuth2Path',
          summary: 'Issue an access token (client credentials, RFC 6749 §4.4)',
          tags: ['oauth'],
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: TokenBody,
          querystring: TokenQuery,
          response: { 200: TokenResponse, '4xx': OAuthErrorBody },
        },
      },
      async (request, reply) => {
        const result = await deps.tokenEndpoint.handle({
          credentials: credentialsOf(request),
          body: parse(request).body,
          ip: request.ip,
          dpop: dpopHeader(request),
          url: `${deps.issuer}${url}`,
        });
        reply.headers(NO_STORE);
        const nonce = deps.tokenEndpoint.currentDpopNonce();
        if (nonce) reply.header('dpop-nonce', nonce);
        return reply.serializer(tokenAnswerJson).send(result);
      },
    );
  }

  const authenticate = (request: FastifyRequest) => deps.authenticator.authenticate(credentialsOf(request), request.ip);
  const requiredToken = (body: Static<typeof TokenOperationBody> | undefined) => {
    const { token } = present(body);
    if (token === undefined) throw new InvalidRequestError('token is required.');
    return token;
  };

  app.post<{ Body: Static<typeof TokenOperationBody> | undefined; Querystring: Static<typeof TokenQuery> }>(
    '/oauth/introspect',
    {
      config: { oauth: true },
      schema: {
        operationId: 'introspectToken',
        summary: 'Token introspection (RFC 7662): is this token active, and for whom?',
        tags: ['oauth'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenOperationBody,
        querystring: TokenQuery,
        response: { 200: IntrospectionResponse, '4xx': OAuthErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request);
      const answer = await deps.introspection.introspect(caller, requiredToken(request.body));
      return reply.headers(NO_STORE).send(answer);
    },
  );

  app.post<{ Body: Static<typeof TokenOperationBody> | undefined; Querystring: Static<typeof TokenQuery> }>(
    '/oauth/revoke',
    {
      config: { oauth: true },
      schema: {
        operationId: 'revokeToken',
        summary: 'Token revocation (RFC 7009): refresh tokens (their family) and access tokens',
        tags: ['oauth'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenOperationBody,
        querystring: TokenQuery,
        response: { 200: RevokedAnswer, '4xx': OAuthErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request);
      await deps.revocation.revoke(caller, requiredToken(request.body));
      return reply.headers(NO_STORE).code(200).send();
    },
  );
}
