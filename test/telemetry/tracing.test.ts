import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { testDatabases } from '../helpers/databases.js';
import { createUser, signIn } from '../helpers/management.js';
import { seedClient, type TestPortcullis, usePortcullis } from '../helpers/portcullis.js';
import { tokenRequest } from '../helpers/tokens.js';
import { tampered } from '../helpers/tamper.js';

// The SDK as main.ts starts it (a registered NodeTracerProvider: AsyncLocalStorage context, W3C
// propagation), exporting to memory instead of OTLP.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
afterAll(() => provider.shutdown());

/** The finished spans of one trace, once its server span has ended (it ends after the answer is sent). */
async function traceOf(name: string): Promise<{ server: ReadableSpan; spans: ReadableSpan[] }> {
  const server = await vi.waitFor(() => {
    const found = exporter.getFinishedSpans().filter((s) => s.name === name && s.kind === SpanKind.SERVER);
    expect(found).toHaveLength(1);
    return found[0] as ReadableSpan;
  });
  const traceId = server.spanContext().traceId;
  return { server, spans: exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId) };
}

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0] as ReadableSpan;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Everything a span exports that could hold a value: names, attributes, status, events. */
const exported = (spans: ReadableSpan[]) => JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })));

describe.each(testDatabases())('OpenTelemetry spans on $name', (db) => {
  let p: TestPortcullis;
  usePortcullis(db, (started) => (p = started), { tracer: provider.getTracer('portcullis') });

  it('traces a token request: the request, then authentication and the grant, then the signature', async () => {
    const c = await seedClient(p.runtime);
    exporter.reset();
    const res = await tokenRequest(p.app, c, { audience: c.apiIdentifier });
    expect(res.statusCode).toBe(200);
    const { server, spans } = await traceOf('POST /oauth/token');
    expect(server.attributes).toEqual({
      'http.request.method': 'POST',
      'http.route': '/oauth/token',
      'http.response.status_code': 200,
      'portcullis.request_id': res.headers['x-request-id'],
    });
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    const authenticate = only(spans, 'oauth.authenticate');
    const grant = only(spans, 'oauth.grant');
    const sign = only(spans, 'jws.sign');
    expect(parentOf(server)).toBeUndefined();
    expect(parentOf(authenticate)).toBe(server.spanContext().spanId);
    expect(parentOf(grant)).toBe(server.spanContext().spanId);
    expect(parentOf(sign)).toBe(grant.spanContext().spanId);
    expect(authenticate.attributes).toEqual({ 'oauth.grant_type': 'client_credentials', 'oauth.client_auth_method': 'client_secret_basic' });
    expect(grant.attributes).toEqual({ 'oauth.grant_type': 'client_credentials', 'oauth.client_id': c.clientId });
    expect(sign.attributes).toMatchObject({ 'jws.alg': 'ES256', 'jws.on_thread': true });
    expect(sign.attributes['jws.kid']).toEqual(expect.any(String));
    const text = exported(spans);
    expect(text).not.toContain(c.secret);
    expect(text).not.toContain(res.json().access_token);
    expect(text).not.toMatch(/pcs_[0-9A-Za-z]{10}/);
  });

  it('marks a refused authentication with its OAuth code, and never records the secret sent', async () => {
    const c = await seedClient(p.runtime);
    const wrong = tampered(c.secret);
    exporter.reset();
    expect((await tokenRequest(p.app, { clientId: c.clientId, secret: wrong }, { audience: c.apiIdentifier })).statusCode).toBe(401);
    const { server, spans } = await traceOf('POST /oauth/token');
    expect(server.attributes['http.response.status_code']).toBe(401);
    // A 4xx is the caller's error, not the server's.
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    const authenticate = only(spans, 'oauth.authenticate');
    expect(authenticate.status).toEqual({ code: SpanStatusCode.ERROR, message: 'invalid_client' });
    expect(authenticate.attributes['oauth.error']).toBe('invalid_client');
    expect(spans.map((s) => s.name)).not.toContain('oauth.grant');
    const text = exported(spans);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(c.secret.slice(4, 24));
  });

  it('continues the trace of an incoming traceparent', async () => {
    const c = await seedClient(p.runtime);
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await p.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      payload: new URLSearchParams({ grant_type: 'client_credentials', audience: c.apiIdentifier }).toString(),
    });
    expect(res.statusCode).toBe(200);
    const { server } = await traceOf('POST /oauth/token');
    expect(server.spanContext().traceId).toBe(traceId);
    expect(parentOf(server)).toBe('00f067aa0ba902b7');
  });

  it('traces a management request and its transaction', async () => {
    await createUser(p.runtime, `admin-${db.name}@example.com`, { platformAdmin: true });
    const admin = await signIn(p.app, `admin-${db.name}@example.com`);
    exporter.reset();
    const res = await p.app.inject({ method: 'POST', url: '/api/v1/organizations', headers: admin.headers('POST'), payload: { name: `Traced ${db.name}` } });
    expect(res.statusCode).toBe(201);
    const { server, spans } = await traceOf('POST /api/v1/organizations');
    expect(server.attributes).toMatchObject({ 'http.route': '/api/v1/organizations', 'http.response.status_code': 201 });
    const tx = only(spans, 'db.transaction');
    expect(parentOf(tx)).toBe(server.spanContext().spanId);
    expect(tx.kind).toBe(SpanKind.CLIENT);
    expect(tx.attributes).toEqual({ 'db.system.name': 'postgresql' });
    const text = exported(exporter.getFinishedSpans());
    expect(text).not.toContain(admin.cookie);
    expect(text).not.toContain(admin.csrf);
  });
});

describe('without a tracer (no OTEL_* exporter configured)', () => {
  const [pglite] = testDatabases();
  let p: TestPortcullis;
  usePortcullis(pglite as NonNullable<typeof pglite>, (started) => (p = started));

  it('makes no span at all, even with an SDK registered in the process', async () => {
    const c = await seedClient(p.runtime);
    exporter.reset();
    expect((await tokenRequest(p.app, c, { audience: c.apiIdentifier })).statusCode).toBe(200);
    expect((await p.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
