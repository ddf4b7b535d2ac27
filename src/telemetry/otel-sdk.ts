import type { Tracer } from '@opentelemetry/api';
import { TRACER_NAME } from './tracing.js';
import { packageVersion } from './version.js';

export interface Tracing {
  tracer: Tracer;
  /** Sends the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry trace SDK: the only module that loads it, and only when an exporter
 * is configured (config.ts: OTEL_TRACES_EXPORTER, or OTEL_EXPORTER_OTLP_ENDPOINT); otherwise the
 * server runs on `@opentelemetry/api` alone, whose no-op tracer is never even asked for.
 *
 * The lighter SDK on purpose: `@opentelemetry/sdk-trace-node` (a tracer provider, batching,
 * AsyncLocalStorage context, W3C trace-context propagation) and the OTLP/HTTP JSON exporter,
 * rather than `@opentelemetry/sdk-node`, which brings metrics and logs SDKs, gRPC and protobuf
 * exporters and auto-instrumentation we do not use. The exporter reads the standard variables
 * itself (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS);
 * the resource takes OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over our defaults.
 */
export async function startTracing(exporter: 'otlp' | 'console'): Promise<Tracing> {
  const [sdk, resources] = await Promise.all([import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/resources')]);
  const spanExporter = exporter === 'otlp' ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter() : new sdk.ConsoleSpanExporter();
  const version = packageVersion();
  const resource = resources.resourceFromAttributes({ 'service.name': 'portcullis', 'service.version': version }).merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.NodeTracerProvider({ resource, spanProcessors: [new sdk.BatchSpanProcessor(spanExporter)] });
  // Global: the AsyncLocalStorage context manager and the W3C propagator that tracing.ts relies on.
  provider.register();
  return { tracer: provider.getTracer(TRACER_NAME, version), shutdown: () => provider.shutdown() };
}
