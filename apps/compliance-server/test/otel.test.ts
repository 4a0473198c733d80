import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { otelWanted, startOtel } from '../src/telemetry/otel.js'
import { MAIN, RpcSession, SECRET, startInstance, token } from './records/process.js'
import { until } from './helpers/wait.js'

// The OpenTelemetry SDK of the service, exporting OTLP (JSON) to a receiver on loopback. Current
// SDK releases need Node ≥ 22.15: the server runs on this Node when it is recent enough, else on the
// Node 24 that .ci/run installs from the npm registry (.ci/tools/conformance).
const NODE24 = fileURLToPath(new URL('../../../.ci/tools/conformance/node_modules/node/bin/node', import.meta.url))
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const recent = major > 22 || (major === 22 && minor >= 15)
const NODE = recent ? process.execPath : existsSync(NODE24) ? NODE24 : null

t.test('OTEL_* decides whether the SDK loads; on Node < 22.15 it is refused with a clear message', async (t) => {
  t.equal(otelWanted({}), false, 'nothing set: no SDK')
  t.equal(otelWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true)
  t.equal(otelWanted({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' }), false)
  t.equal(otelWanted({ OTEL_TRACES_EXPORTER: 'console' }), true)
  t.equal(otelWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'TRUE' }), false)
  t.equal(await startOtel({}), null)
  await t.rejects(startOtel({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, '20.20.2'), /the OpenTelemetry SDK needs Node ≥ 22\.15 \(this is Node 20\.20\.2\): run the service on Node 22 or 24, or unset the OTEL_\* variables/)
  if (recent) return
  // On this Node, the server itself refuses to start with OTEL_* set, naming the cause.
  const dir = await mkdtemp(join(tmpdir(), 'otel-'))
  const child = spawn(process.execPath, [MAIN, 'serve'], { env: { PATH: process.env.PATH ?? '', HOME: dir, DATA_DIR: dir, PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', AUTH_HS256_SECRET: SECRET, AUTH_ISSUER: 'https://issuer.test' } })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 1, 'the start is refused')
  t.match(err, /^compliance-server: OTEL_\* asks for telemetry export, and the OpenTelemetry SDK needs Node ≥ 22\.15/)
})

interface OtlpAttr { key: string, value: Record<string, unknown> }
interface OtlpSpan { name: string, traceId: string, spanId: string, parentSpanId?: string, attributes: OtlpAttr[] }
interface OtlpTraces { resourceSpans: Array<{ resource: { attributes: OtlpAttr[] }, scopeSpans: Array<{ scope: { name: string }, spans: OtlpSpan[] }> }> }
interface OtlpMetrics { resourceMetrics: Array<{ scopeMetrics: Array<{ scope: { name: string }, metrics: Array<{ name: string }> }> }> }

const attr = (attrs: OtlpAttr[], key: string): unknown => {
  const v = attrs.find((a) => a.key === key)?.value
  return v === undefined ? undefined : Object.values(v)[0]
}

t.test('traces and metrics reach an OTLP receiver: MCP spans on the conventions, HTTP spans from @fastify/otel, the caller\'s trace continued', { skip: NODE === null ? 'no Node ≥ 22.15 here (.ci/run installs Node 24 before the tests)' : false }, async (t) => {
  const receiver = Fastify({ bodyLimit: 50 * 1024 * 1024 })
  const traces: OtlpTraces[] = []
  const metrics: OtlpMetrics[] = []
  receiver.post('/v1/traces', async (request) => { traces.push(request.body as OtlpTraces); return {} })
  receiver.post('/v1/metrics', async (request) => { metrics.push(request.body as OtlpMetrics); return {} })
  await receiver.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => receiver.close())
  const endpoint = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`
  const dir = await mkdtemp(join(tmpdir(), 'otel-'))
  const server = await startInstance(t, {
    DATA_DIR: dir,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'compliance-otel-test',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '500'
  }, { node: NODE as string })
  const session = new RpcSession(server.url, await token('analyst-otel', ['risk:read']))
  await session.open()
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': session.sid, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'country_risk', arguments: { country: 'Iran' } } })
  })
  t.equal(res.status, 200)
  await res.text()
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'the SDK is flushed and stopped at shutdown')
  t.ok(await until(() => traces.length > 0 && metrics.length > 0, 10_000, 50), 'spans and metrics were exported')

  const all = traces.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, scope: ss.scope.name, resource: rs.resource.attributes })))))
  const call = all.find((s) => s.name === 'tools/call country_risk')
  t.ok(call, `an MCP span named "tools/call country_risk" among: ${[...new Set(all.map((s) => s.name))].join(', ')}`)
  t.equal(attr(call?.resource ?? [], 'service.name'), 'compliance-otel-test', 'OTEL_SERVICE_NAME names the service')
  t.equal(attr(call?.attributes ?? [], 'mcp.method.name'), 'tools/call')
  t.equal(attr(call?.attributes ?? [], 'gen_ai.tool.name'), 'country_risk')
  t.equal(attr(call?.attributes ?? [], 'gen_ai.operation.name'), 'execute_tool')
  t.equal(call?.traceId, traceId, 'the trace of the caller\'s traceparent is continued')
  t.ok(all.some((s) => s.scope === '@fastify/otel' && s.traceId === traceId), 'the HTTP layer has its span in the same trace (@fastify/otel)')
  const names = metrics.flatMap((b) => b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name))))
  t.ok(names.includes('mcp.server.operation.duration'), `mcp.server.operation.duration exported (got ${[...new Set(names)].join(', ')})`)
})
