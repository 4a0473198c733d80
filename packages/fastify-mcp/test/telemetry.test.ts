import t from 'tap'
import { context, metrics, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildApp, listen } from './helpers/http.js'
import { hashSessionId, resetTelemetryCache, telemetryEnabled } from '../src/telemetry/mcp.js'

t.test('no SDK registered: telemetry is off', async (t) => {
  t.equal(telemetryEnabled(), false)
})

t.test('with an SDK: a server span per tools/call on the MCP conventions, parented by params._meta.traceparent; mcp.server.operation.duration', async (t) => {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  context.setGlobalContextManager(new AsyncHooksContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(tracerProvider)
  metrics.setGlobalMeterProvider(meterProvider)
  t.teardown(async () => {
    await meterProvider.shutdown(); await tracerProvider.shutdown()
    trace.disable(); metrics.disable(); propagation.disable(); context.disable()
    resetTelemetryCache()
  })
  resetTelemetryCache()
  t.equal(telemetryEnabled(), true)

  const app = await buildApp()
  app.mcp.prompt({ name: 'greet', description: 'Greets', arguments: [{ name: 'who', required: true }], handler: (args) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hello ${args.who ?? ''}` } }] }) })
  t.teardown(() => app.close())
  const url = new URL(await listen(app))
  const client = new Client({ name: 'otel-client', version: '1' })
  const transport = new StreamableHTTPClientTransport(url)
  await client.connect(transport)
  t.teardown(async () => { await client.close() })

  // The client's own span, injected into _meta as the conventions describe.
  const parent = trace.getTracer('client').startSpan('tools/call echo', { kind: SpanKind.CLIENT })
  const carrier: Record<string, string> = {}
  propagation.inject(trace.setSpan(context.active(), parent), carrier)
  t.match(carrier.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  const r = await client.callTool({ name: 'echo', arguments: { text: 'hi' }, _meta: { ...carrier } })
  t.same(r.content, [{ type: 'text', text: 'hi' }])
  parent.end()
  const bad = await client.callTool({ name: 'echo', arguments: { text: 5 } })
  t.equal(bad.isError, true)
  const unknown = await client.callTool({ name: 'nope', arguments: {} }).catch((err: Error) => err)
  t.ok(unknown instanceof Error)

  const server = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)
  t.equal(server.length, 3, 'one server span per tools/call')
  spans.reset()

  // prompts/get and resources/read have their spans too.
  await client.getPrompt({ name: 'greet', arguments: { who: 'ada' } })
  await client.readResource({ uri: 'test://r' })
  const missing = await client.getPrompt({ name: 'greet', arguments: {} }).catch((err: Error) => err)
  t.ok(missing instanceof Error)
  const more = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)
  t.match(more.map((s) => s.name), ['prompts/get greet', 'resources/read', 'prompts/get greet'])
  t.match(more[0]?.attributes, { 'mcp.method.name': 'prompts/get', 'gen_ai.prompt.name': 'greet', 'mcp.session.id': hashSessionId(transport.sessionId as string) })
  t.match(more[1]?.attributes, { 'mcp.method.name': 'resources/read', 'mcp.resource.uri': 'test://r' })
  t.match(more[2], { attributes: { 'error.type': '-32602' }, status: { code: SpanStatusCode.ERROR } }, 'a missing argument: the error on the span')
  const [ok, toolError, protocolError] = server
  t.equal(ok?.name, 'tools/call echo')
  t.match(ok?.attributes, {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': 'echo',
    'gen_ai.operation.name': 'execute_tool',
    'mcp.protocol.version': String,
    'jsonrpc.request.id': String,
    'network.transport': 'tcp',
    'network.protocol.name': 'http',
    'mcp.session.id': hashSessionId(transport.sessionId as string)
  })
  t.not(ok?.attributes['mcp.session.id'], transport.sessionId, 'the session id is hashed')
  t.equal(ok?.spanContext().traceId, parent.spanContext().traceId, 'same trace as the client span')
  t.equal(ok?.parentSpanContext?.spanId, parent.spanContext().spanId, 'child of the span injected in _meta')
  t.equal(ok?.attributes['error.type'], undefined)
  t.match(toolError, { name: 'tools/call echo', attributes: { 'error.type': 'tool_error' }, status: { code: SpanStatusCode.ERROR } })
  t.not(toolError?.spanContext().traceId, parent.spanContext().traceId, 'no _meta: a trace of its own')
  t.match(protocolError, { name: 'tools/call', attributes: { 'error.type': '-32602', 'rpc.response.status_code': '-32602' }, status: { code: SpanStatusCode.ERROR } })
  t.equal(protocolError?.attributes['gen_ai.tool.name'], undefined, 'an unknown tool name is not recorded')

  const collected = await reader.collect()
  const metric = collected.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'mcp.server.operation.duration') as HistogramMetricData | undefined
  t.equal(metric?.descriptor.unit, 's')
  const points = metric?.dataPoints ?? []
  t.equal(points.reduce((n, p) => n + p.value.count, 0), 6, 'three tools/call, two prompts/get, one resources/read')
  t.ok(points.some((p) => p.attributes['mcp.method.name'] === 'prompts/get' && p.attributes['gen_ai.prompt.name'] === 'greet'))
  t.ok(points.some((p) => p.attributes['error.type'] === 'tool_error' && p.attributes['gen_ai.tool.name'] === 'echo'))
  t.ok(points.some((p) => p.attributes['error.type'] === undefined && p.attributes['mcp.method.name'] === 'tools/call'))
})
