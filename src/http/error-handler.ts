import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, RateLimited, type ErrorDetail } from '../errors/api-error.js';
import { InvalidRequestError, OAuthError, TooManyRequestsError } from '../errors/oauth-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors of this route speak RFC 6749 §5.2 (`error`, `error_description`) instead of the management shape. */
    oauth?: boolean;
  }
}

/**
 * The one place errors become HTTP answers. OAuth routes answer RFC 6749 §5.2 JSON
 * with `Cache-Control: no-store`; everything else answers `{error, message, details?}`.
 * A private detail and anything unexpected go to the log only, never to the caller.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const oauth = request.routeOptions.config?.oauth === true;
    // Throttling is shared by both families; off the OAuth endpoints it speaks the management shape.
    if (err instanceof TooManyRequestsError && !oauth) return sendApi(reply, new RateLimited(err.retryAfterSeconds));
    if (err instanceof OAuthError) return sendOAuth(request, reply, err);
    if (err instanceof ApiError) return sendApi(reply, err);
    if (err.validation) {
      const details = validationDetails(err);
      if (oauth) return sendOAuth(request, reply, new InvalidRequestError(`Invalid request: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}.`));
      return sendApi(reply, new ApiError('invalid_request', 'The request is invalid.', 400, details));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: bad JSON, unsupported content type, body too large.
      const message = clientErrorMessage(err);
      if (oauth) return sendOAuth(request, reply, new OAuthError('invalid_request', message, status === 413 ? 413 : 400));
      return sendApi(reply, new ApiError(status === 413 ? 'payload_too_large' : 'invalid_request', message, status));
    }
    request.log.error({ err }, 'unexpected error');
    if (oauth) return sendOAuth(request, reply, new OAuthError('server_error', 'The server could not handle this request.', 500));
    return sendApi(reply, new ApiError('server_error', 'The server could not handle this request.', 500));
  });

  app.setNotFoundHandler((request, reply) => {
    void sendApi(reply, new ApiError('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`, 404));
  });
}

function sendOAuth(request: FastifyRequest, reply: FastifyReply, err: OAuthError): FastifyReply {
  request.log.info({ oauth_error: err.error, detail: err.detail ?? err.description, status: err.status }, 'oauth request refused');
  return reply
    .code(err.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache', ...err.headers() })
    .send({ error: err.error, error_description: err.description });
}

function sendApi(reply: FastifyReply, err: ApiError): FastifyReply {
  const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
  if (retryAfter !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  return reply.code(err.status).send({ error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
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
