import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { OAuthError } from '../errors/oauth-error.js';

/**
 * Spans through `@opentelemetry/api` only: the SDK is loaded by telemetry/otel-sdk.ts when an
 * exporter is configured, and otherwise nothing here runs (callers hold no tracer and skip it).
 * No span carries a secret: attributes are route patterns, grant types, client ids (public
 * identifiers, set once authenticated), OAuth error codes and key ids; never a header, body,
 * query string, token or error message.
 */
export const TRACER_NAME = 'portcullis';

/** Runs `work` in a span (a child of the active one), ended when it settles; a failure records its OAuth code or error name. */
export function inSpan<T>(tracer: Tracer, name: string, attributes: Attributes, work: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, kind }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

function failed(span: Span, err: unknown): void {
  if (err instanceof OAuthError) span.setAttribute('oauth.error', err.error);
  // The error's name, not its message: a message may quote input.
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof OAuthError ? err.error : err instanceof Error ? err.name : 'error' });
}

/**
 * One server span per request, named `METHOD /route/pattern`, continuing the caller's trace when
 * it sends `traceparent` (W3C Trace Context). Fastify runs a request's hooks and handler in
 * several callbacks (the body is read in between), so the span is made the active context again
 * at each stage that can start work: whatever the handler does (a grant, a signature, a
 * transaction) becomes its child.
 */
export function installRequestTracing(app: FastifyInstance, tracer: Tracer): void {
  const spans = new WeakMap<FastifyRequest, ReturnType<typeof context.active>>();
  const activate = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const ctx = spans.get(request);
    if (ctx) context.with(ctx, done);
    else done();
  };
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}), 'portcullis.request_id': request.id } },
      parent,
    );
    spans.set(request, trace.setSpan(parent, span));
    activate(request, reply, done);
  });
  app.addHook('preValidation', activate);
  app.addHook('preHandler', activate);
  app.addHook('onResponse', (request, reply, done) => {
    const ctx = spans.get(request);
    const span = ctx && trace.getSpan(ctx);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      // Semantic conventions: a server span is an error for 5xx only; a 4xx is the caller's.
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
