import t from 'tap'
import { context, metrics, propagation, trace, SpanStatusCode } from '@opentelemetry/api'
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { recordSessionDuration, resetTelemetryCache, startOperation, traceOperation, type TraceScope } from '../src/telemetry/mcp.js'

// The telemetry module on its own: the paths the HTTP tests do not take (stdio scopes, a meter
// without a tracer, errors without a JSON-RPC code, both trace contexts at once).

const stdio: TraceScope = { request: null, meta: undefined, protocolVersion: '2025-11-25', requestId: null, sessionId: null }

async function points (reader: PeriodicExportingMetricReader, name: string): Promise<HistogramMetricData['dataPoints']> {
  const collected = await reader.collect()
  const metric = collected.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name) as HistogramMetricData | undefined
  return metric?.dataPoints ?? []
}

t.test('without any SDK, traceOperation only runs the work', async (t) => {
  resetTelemetryCache()
  t.equal(await traceOperation({ method: 'ping' }, stdio, async () => 7, () => null), 7)
  t.equal(startOperation({ method: 'ping' }, stdio), null)
  recordSessionDuration(1, '2025-11-25', null)
})

t.test('a meter without a tracer: duration points only, over stdio, errors by name', async (t) => {
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  metrics.setGlobalMeterProvider(meterProvider)
  resetTelemetryCache()
  t.teardown(async () => { await meterProvider.shutdown(); metrics.disable(); resetTelemetryCache() })
  await t.rejects(traceOperation({ method: 'tools/call', toolName: 'x', target: 'x' }, stdio, async () => { throw new TypeError('bad') }, () => null), TypeError)
  await traceOperation({ method: 'prompts/get', promptName: 'p', target: 'p' }, stdio, async () => 1, () => null)
  const op = startOperation({ method: 'ping' }, stdio)
  t.ok(op !== null)
  op?.end(null)
  op?.end('ignored')
  recordSessionDuration(2, '2025-11-25', 'shutdown_error')
  const ops = await points(reader, 'mcp.server.operation.duration')
  t.ok(ops.some((p) => p.attributes['error.type'] === 'TypeError' && p.attributes['network.transport'] === 'pipe' && p.attributes['gen_ai.tool.name'] === 'x'), 'an error without a code is recorded by its name, over stdio')
  t.ok(ops.some((p) => p.attributes['gen_ai.prompt.name'] === 'p'))
  t.equal(ops.filter((p) => p.attributes['mcp.method.name'] === 'ping').reduce((n, p) => n + p.value.count, 0), 1, 'a second end is ignored')
  const sessions = await points(reader, 'mcp.server.session.duration')
  t.match(sessions, [{ attributes: { 'error.type': 'shutdown_error' } }])
})

t.test('a tracer: _meta parents the span and the HTTP context is linked; an id-less request has no jsonrpc.request.id', async (t) => {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  context.setGlobalContextManager(new AsyncHooksContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(tracerProvider)
  resetTelemetryCache()
  t.teardown(async () => { await tracerProvider.shutdown(); trace.disable(); propagation.disable(); context.disable(); resetTelemetryCache() })
  const http = '00-11111111111111111111111111111111-2222222222222222-01'
  const meta = '00-33333333333333333333333333333333-4444444444444444-01'
  const scope: TraceScope = { request: { headers: { traceparent: http } }, meta: { traceparent: meta }, protocolVersion: '2025-11-25', requestId: undefined, sessionId: null }
  await t.rejects(traceOperation({ method: 'resources/read', resourceUri: 'r://1' }, scope, async () => { throw null as unknown as Error }, () => null))
  const [span] = spans.getFinishedSpans()
  t.equal(span?.spanContext().traceId, '33333333333333333333333333333333', 'the _meta context is the parent')
  t.same(span?.links.map((l) => l.context.traceId), ['11111111111111111111111111111111'], 'the HTTP context is linked')
  t.equal(span?.attributes['jsonrpc.request.id'], undefined)
  t.match(span, { attributes: { 'error.type': '_OTHER', 'network.protocol.name': 'http' }, status: { code: SpanStatusCode.ERROR } })
})
