import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ErrorDetail, Unauthenticated } from '../errors/api-error.js';
import {
  AuthenticationFailedError,
  ConflictError,
  DomainError,
  InvalidCursorError,
  InvalidInputError,
  NotFoundError,
  ThrottledError,
  UnavailableError,
  type InputIssue,
} from '../errors/domain-errors.js';
import { InvalidRequestError, OAuthError } from '../errors/oauth-error.js';
import { NO_STORE, oauthErrorOf, UNAVAILABLE_RETRY_AFTER } from '../oauth/oauth-answer.js';
import { isDatabaseUnavailable } from '../store/faults.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors of this route speak RFC 6749 §5.2 (`error`, `error_description`) instead of the management shape. */
    oauth?: boolean;
  }
  interface FastifyReply {
    /** The OAuth `error` code this answer carries, if it is one (the metrics count refusals by it). */
    oauthError: string | null;
  }
}

const SERVER_ERROR = 'The server could not handle this request.';

/**
 * The one place errors become HTTP answers. The family follows the route, not the error:
 * OAuth routes answer RFC 6749 §5.2 JSON with `Cache-Control: no-store`; everything else
 * answers `{error, message, details?}`. Domain errors (which know no HTTP) are mapped here.
 * A private detail and anything unexpected go to the log only, never to the caller.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.decorateReply('oauthError', null);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const unavailable = err instanceof UnavailableError || isDatabaseUnavailable(err);
    // Expected in an outage, and the operator learns it from /readyz and the metrics: a warning, not an error.
    if (unavailable) request.log.warn({ err: { message: err.message, code: err.code, cause: err.cause instanceof Error ? err.cause.message : undefined } }, 'a dependency is unavailable');
    if (request.routeOptions.config?.oauth === true) {
      const oauth = asOAuthError(err);
      if (!oauth) request.log.error({ err }, 'unexpected error');
      return sendOAuth(request, reply, oauth ?? new OAuthError('server_error', SERVER_ERROR, 500));
    }
    const api = unavailable
      ? new ApiError('unavailable', err instanceof UnavailableError ? err.message : 'The database cannot be reached; retry later.', 503, undefined, UNAVAILABLE_RETRY_AFTER)
      : asApiError(err);
    if (!api) request.log.error({ err }, 'unexpected error');
    return sendApi(reply, api ?? new ApiError('server_error', SERVER_ERROR, 500));
  });

  app.setNotFoundHandler((request, reply) => {
    void sendApi(reply, new ApiError('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`, 404));
  });
}

/**
 * Fastify's answer to a URL it cannot route (malformed percent-encoding, invalid UTF-8 such as
 * an encoded lone surrogate), before any route is chosen: the family follows the path.
 */
export function frameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // No onRequest hook runs before this answer: echo the request id here (telemetry/request-id.ts).
  reply.header('x-request-id', request.id);
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long.' : 'The URL is malformed (percent-encoding or UTF-8).';
  if (/^\/oauth2?\//.test(request.url)) void sendOAuth(request, reply, new InvalidRequestError(message, err.code));
  else
    void sendApi(
      reply,
      new ApiError('invalid_request', message, 400, [
        { field: '/url', message: err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'has a path parameter that is too long' : 'is not valid percent-encoded UTF-8' },
      ]),
    );
}

/** The management answer for `err`, or undefined for an unexpected error (a 500). */
export function asApiError(err: FastifyError | Error): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof DomainError) return apiErrorOf(err);
  if (!isFastifyError(err)) return undefined;
  if (err.validation) return new ApiError('invalid_request', 'The request is invalid.', 400, validationDetails(err));
  const status = err.statusCode ?? 500;
  // Fastify's own client errors: bad JSON, unsupported content type, body too large.
  if (status >= 400 && status < 500) return new ApiError(status === 413 ? 'payload_too_large' : 'invalid_request', clientErrorMessage(err), status === 413 || status === 415 ? status : 400);
  return undefined;
}

function apiErrorOf(err: DomainError): ApiError | undefined {
  if (err instanceof NotFoundError) return new ApiError('not_found', err.message, 404);
  if (err instanceof ConflictError) return new ApiError('conflict', err.message, 409);
  if (err instanceof InvalidInputError) return new ApiError('invalid_request', err.message, 400, issuesAt(err.part, err.issues));
  if (err instanceof InvalidCursorError) return new ApiError('invalid_request', err.message, 400, [{ field: '/querystring/cursor', message: 'not a cursor from a previous page' }]);
  if (err instanceof AuthenticationFailedError) return new ApiError('unauthenticated', err.message, 401);
  if (err instanceof ThrottledError) return new ApiError('rate_limited', 'Too many requests; retry later.', 429, undefined, err.retryAfterSeconds);
  return undefined;
}

/** The OAuth answer for `err`, or undefined for an unexpected error (a 500). */
function asOAuthError(err: FastifyError | Error): OAuthError | undefined {
  const domain = oauthErrorOf(err);
  if (domain) return domain;
  if (err instanceof DomainError || !isFastifyError(err)) return undefined;
  if (err.validation)
    return new InvalidRequestError(
      `Invalid request: ${validationDetails(err)
        .map((d) => `${d.field} ${d.message}`)
        .join('; ')}.`,
    );
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new OAuthError('invalid_request', clientErrorMessage(err), status === 413 ? 413 : 400);
  return undefined;
}

function isFastifyError(err: Error): err is FastifyError {
  return 'validation' in err || 'statusCode' in err || 'code' in err;
}

function sendOAuth(request: FastifyRequest, reply: FastifyReply, err: OAuthError): FastifyReply {
  request.log.info({ oauth_error: err.error, detail: err.detail ?? err.description, status: err.status }, 'oauth request refused');
  reply.oauthError = err.error;
  return reply
    .code(err.status)
    .headers({ ...NO_STORE, ...err.headers() })
    .send({ error: err.error, error_description: err.description });
}

function sendApi(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err instanceof Unauthenticated && err.challenge) void reply.header('www-authenticate', err.challenge);
  if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  return reply.code(err.status).send({ error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
}

/** A domain error's input issues as JSON pointers into the request part they came from. */
function issuesAt(part: 'body' | 'querystring', issues: readonly InputIssue[]): ErrorDetail[] | undefined {
  if (issues.length === 0) return undefined;
  return issues.map((i) => ({ field: `/${part}${i.path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')}`, message: i.message }));
}

function validationDetails(err: FastifyError): ErrorDetail[] {
  return (err.validation ?? []).map((v) => {
    const missing = v.keyword === 'required' ? `/${String((v.params as { missingProperty?: string }).missingProperty)}` : '';
    return { field: `/${err.validationContext ?? 'body'}${v.instancePath}${missing}`, message: v.message ?? 'is invalid' };
  });
}

function clientErrorMessage(err: FastifyError): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type; send application/x-www-form-urlencoded or application/json.';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is too large.';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'The request body is malformed.';
    default:
      return err.statusCode === 400 && err.message.includes('JSON') ? 'The request body is not valid JSON.' : 'The request is malformed.';
  }
}
