import t, { type Test } from 'tap'
import { context, metrics, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { buildApp, listen, openSession, PV } from './helpers/http.js'
import { bearer, testAuth } from './helpers/auth-stub.js'
import { hashSessionId, resetTelemetryCache, telemetryEnabled } from '../src/telemetry/mcp.js'

/** Registers an SDK with in-memory exporters for one test, and removes it after. */
function withSdk (t: Test): { spans: InMemorySpanExporter, reader: PeriodicExportingMetricReader } {
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
  return { spans, reader }
}

async function histogram (reader: PeriodicExportingMetricReader, name: string): Promise<HistogramMetricData | undefined> {
  const collected = await reader.collect()
  return collected.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name) as HistogramMetricData | undefined
}

t.test('no SDK registered: telemetry is off', async (t) => {
  t.equal(telemetryEnabled(), false)
})

t.test('with an SDK: a server span per tools/call on the MCP conventions, parented by params._meta.traceparent; mcp.server.operation.duration', async (t) => {
  const { spans, reader } = withSdk(t)
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

  const server = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.attributes['mcp.method.name'] === 'tools/call')
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

  const metric = await histogram(reader, 'mcp.server.operation.duration')
  t.equal(metric?.descriptor.unit, 's')
  const points = metric?.dataPoints ?? []
  const count = (method: string): number => points.filter((p) => p.attributes['mcp.method.name'] === method).reduce((n, p) => n + p.value.count, 0)
  t.same([count('tools/call'), count('prompts/get'), count('resources/read'), count('initialize')], [3, 2, 1, 1], 'three tools/call, two prompts/get, one resources/read, and the initialize')
  t.ok(points.some((p) => p.attributes['mcp.method.name'] === 'prompts/get' && p.attributes['gen_ai.prompt.name'] === 'greet'))
  t.ok(points.some((p) => p.attributes['error.type'] === 'tool_error' && p.attributes['gen_ai.tool.name'] === 'echo'))
  t.ok(points.some((p) => p.attributes['error.type'] === undefined && p.attributes['mcp.method.name'] === 'tools/call'))
})

t.test('every request has its span, in both eras: initialize, ping, lists, log level, 2026 discovery; a session\'s end records mcp.server.session.duration', async (t) => {
  const { spans, reader } = withSdk(t)
  const app = await buildApp()
  app.mcp.prompt({ name: 'greet', description: 'Greets', handler: () => ({ messages: [] }) })
  t.teardown(() => app.close())
  const url = new URL(await listen(app))

  const client = new Client({ name: 'otel-client', version: '1' })
  const transport = new StreamableHTTPClientTransport(url)
  await client.connect(transport)
  const sessionId = transport.sessionId as string
  await client.ping()
  await client.listTools()
  await client.listPrompts()
  await client.setLoggingLevel('warning')
  const badCursor = await client.listPrompts({ cursor: 'not-a-cursor' }).catch((err: Error) => err)
  t.ok(badCursor instanceof Error)
  const session = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)
  t.same(session.map((s) => s.name), ['initialize', 'ping', 'tools/list', 'prompts/list', 'logging/setLevel', 'prompts/list'])
  const [init, ping, toolsList, promptsList, setLevel, failed] = session
  t.match(init?.attributes, { 'mcp.method.name': 'initialize', 'mcp.protocol.version': String, 'jsonrpc.request.id': '0', 'network.transport': 'tcp' })
  t.equal(init?.attributes['mcp.session.id'], undefined, 'no session before initialize answers')
  for (const s of [ping, toolsList, promptsList, setLevel]) {
    t.match(s?.attributes, { 'mcp.session.id': hashSessionId(sessionId), 'mcp.protocol.version': init?.attributes['mcp.protocol.version'] }, `${s?.name ?? ''}: in the session`)
    t.equal(s?.status.code, SpanStatusCode.UNSET)
  }
  t.match(failed, { attributes: { 'error.type': '-32602' }, status: { code: SpanStatusCode.ERROR } }, 'an error response ends its span with the code')

  await transport.terminateSession()
  await client.close()
  const sessions = await histogram(reader, 'mcp.server.session.duration')
  t.equal(sessions?.descriptor.unit, 's')
  t.equal(sessions?.dataPoints.reduce((n, p) => n + p.value.count, 0), 1, 'one session ended')
  t.match(sessions?.dataPoints[0]?.attributes, { 'mcp.protocol.version': init?.attributes['mcp.protocol.version'], 'network.transport': 'tcp' })
  spans.reset()

  const v2 = new ClientV2({ name: 'otel-v2', version: '1' }, { versionNegotiation: { mode: 'auto' } })
  await v2.connect(new TransportV2(url))
  t.teardown(async () => { await v2.close() })
  await v2.listTools()
  const modern = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.attributes['mcp.protocol.version'] === '2026-07-28')
  t.equal(v2.getProtocolEra(), 'modern')
  t.same(modern.map((s) => s.name), ['server/discover', 'tools/list'], '2026-07-28 discovery and tools/list have their spans')
  t.ok(modern.every((s) => s.attributes['mcp.session.id'] === undefined), 'no sessions in 2026-07-28')
})

t.test('telemetry.recordSubject puts the verified subject on spans as enduser.id; by default no span names the caller', async (t) => {
  const { spans } = withSdk(t)
  for (const recordSubject of [true, false]) {
    const app = await buildApp({ auth: testAuth(), telemetry: { recordSubject } })
    t.teardown(() => app.close())
    const base = await listen(app)
    const { post } = await openSession(base, PV, {}, bearer('ada'))
    t.equal((await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } })).status, 200)
    t.equal((await post({ jsonrpc: '2.0', id: 3, method: 'prompts/list' })).status, 200)
    const names = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)
    t.same(names.map((s) => s.name), ['initialize', 'tools/call echo', 'prompts/list'])
    t.same(names.map((s) => s.attributes['enduser.id']), recordSubject ? ['ada', 'ada', 'ada'] : [undefined, undefined, undefined], `recordSubject: ${String(recordSubject)}`)
    spans.reset()
  }
  await t.rejects(buildApp({ telemetry: { recordSubject: 'yes' as never } }), /telemetry.recordSubject must be a boolean/)
})
