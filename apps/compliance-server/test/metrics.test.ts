import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildApp } from '../src/app.js'
import { ALL_SCOPES, setupAuth } from '../src/auth.js'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/services.js'
import { until } from './helpers/wait.js'

const SECRET = 'test-secret-that-is-long-enough-0123456789'

async function start (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string>): Promise<{ app: Awaited<ReturnType<typeof buildApp>>, url: string, token: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'metrics-'))
  const config = loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, DATA_DIR: dir, MCP_PUBLIC_URL: 'http://127.0.0.1/mcp', ...env })
  const services = await createServices(config)
  const { auth } = await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger: false })
  t.teardown(async () => { await app.close(); await services.records.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const token = await new SignJWT({ scope: ALL_SCOPES.join(' '), client_id: 'tests' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test')
    .setAudience('http://127.0.0.1/mcp').setSubject('analyst-m').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
  return { app, url, token }
}

t.test('METRICS_PORT serves a Prometheus scrape of the MCP and tool metrics; the MCP port does not', async (t) => {
  const { app, url, token } = await start(t, { METRICS_PORT: '0' })
  const address = app.metricsServer?.server.address() as { port: number }
  t.ok(address.port > 0, 'metrics listener bound')
  t.not(address.port, (app.server.address() as { port: number }).port)
  t.equal((await fetch(new URL('/metrics', url))).status, 404, 'no /metrics on the MCP port')

  // Two refusals before any tool runs: no token, and a token without the scope of the tool.
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }
  const mcpHeaders = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }
  t.equal((await fetch(url, { method: 'POST', headers: mcpHeaders, body: JSON.stringify(init) })).status, 401)
  const narrow = await new SignJWT({ scope: 'risk:read', client_id: 'tests' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test')
    .setAudience('http://127.0.0.1/mcp').setSubject('analyst-n').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
  const narrowClient = new Client({ name: 'narrow', version: '1' })
  await narrowClient.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${narrow}` } } }))
  t.teardown(async () => { await narrowClient.close() })
  await t.rejects(narrowClient.callTool({ name: 'screen_sanctions', arguments: { name: 'x' } }))

  const client = new Client({ name: 'tests', version: '1' })
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })
  await client.connect(transport)
  // Each SDK client opens its standalone GET stream after initializing: both show in the stream gauge.
  let streams = ''
  await until(async () => {
    streams = await fetch(`http://127.0.0.1:${address.port}/metrics`).then(async (r) => await r.text())
    return /^mcp_sse_streams\{kind="get"\} 2$/m.test(streams)
  }, 2_000)
  t.match(streams, /^mcp_sse_streams\{kind="get"\} 2$/m, 'the two GET streams are counted')
  t.match(streams, /^mcp_sse_streams\{kind="listen"\} 0$/m)
  await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Banco Nacional de Cuba' } })
  await client.callTool({ name: 'country_risk', arguments: { country: 'FR' } })
  const bad = await client.callTool({ name: 'country_risk', arguments: { country: 'Atlantis' } })
  t.equal(bad.isError, true)
  await transport.terminateSession()
  await client.close()
  // The session's DELETE closes it; its duration is observed from the plugin's session:closed event.
  let raw = ''
  const scrape = async (): Promise<ReturnType<typeof parsePrometheusTextFormat>> => {
    const res = await fetch(`http://127.0.0.1:${address.port}/metrics`)
    raw = await res.text()
    return parsePrometheusTextFormat(raw)
  }
  t.match((await fetch(`http://127.0.0.1:${address.port}/metrics`)).headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  let families = await scrape()
  await until(async () => {
    families = await scrape()
    return /^mcp_server_session_duration_seconds_count\{reason="\w+"\} 1$/m.test(raw)
  }, 2_000)
  // The parser flattens a labelled histogram's _count/_sum series into one sample (parse-prometheus-text-format 1.1.1):
  // histogram families are checked through it (name, type, help), their per-label counts on the text's `_count` lines.
  const histogramCount = (name: string, labels: Record<string, string>): number | null => {
    for (const line of raw.split('\n')) {
      const m = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line)
      if (m === null) continue
      const got = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
      if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2])
    }
    return null
  }
  const family = (name: string): NonNullable<ReturnType<typeof families.find>> => {
    const f = families.find((x) => x.name === name)
    if (f === undefined) throw new Error(`${name} missing`)
    return f
  }
  const op = family('mcp_server_operation_duration_seconds')
  t.equal(op.type, 'HISTOGRAM')
  t.match(op.help, /^mcp\.server\.operation\.duration/)
  t.equal(histogramCount('mcp_server_operation_duration_seconds', { mcp_method_name: 'tools/call', gen_ai_tool_name: 'screen_sanctions', gen_ai_operation_name: 'execute_tool' }), 1)
  t.equal(histogramCount('mcp_server_operation_duration_seconds', { gen_ai_tool_name: 'country_risk', error_type: 'tool_error' }), 1)
  const calls = family('compliance_tool_calls_total').metrics
  t.match(calls.find((m) => m.labels?.tool === 'country_risk' && m.labels.outcome === 'ok'), { value: '1' })
  t.match(calls.find((m) => m.labels?.tool === 'country_risk' && m.labels.outcome === 'error'), { value: '1' })
  t.match(family('compliance_tool_refusals_total').metrics, [{ labels: { tool: 'country_risk', reason: 'tool_error' }, value: '1' }])
  t.ok(Number(family('compliance_screening_hits_total').metrics.find((m) => m.labels?.source === 'OFAC-SDN')?.value) >= 1, 'screening hits counted')
  t.equal(family('compliance_audit_commit_duration_seconds').type, 'HISTOGRAM')
  t.equal(histogramCount('compliance_audit_commit_duration_seconds', {}), 2, 'two successful calls committed')
  t.match(family('compliance_alerts_opened_total'), { type: 'COUNTER', metrics: [{ value: '1' }] }, 'the screening with a hit opened one alert')
  t.equal(family('compliance_audit_batch_records').type, 'HISTOGRAM')
  const batches = histogramCount('compliance_audit_batch_records', {}) as number
  t.ok(batches >= 3, `each audit commit of the three calls observed (${batches} commits)`)
  t.match(raw, /^compliance_audit_batch_records_sum \d+$/m)
  const ages = family('compliance_list_age_seconds').metrics
  t.same(ages.map((m) => m.labels?.source).sort(), ['OFAC-SDN', 'UN'])
  t.ok(ages.every((m) => Number(m.value) > 0))
  t.equal(family('mcp_sessions').type, 'GAUGE')
  t.equal(family('mcp_live_sessions').type, 'GAUGE')
  t.same(Object.fromEntries(family('mcp_refusals_total').metrics.map((m) => [m.labels?.reason, m.value])), { unauthenticated: '1', insufficient_scope: '1' }, 'plugin refusals by reason')
  t.equal(family('mcp_server_session_duration_seconds').type, 'HISTOGRAM')
  t.equal(histogramCount('mcp_server_session_duration_seconds', {}), 1, 'the closed session observed once')
})

t.test('no METRICS_PORT: no metrics listener; METRICS_PORT equal to PORT is refused', async (t) => {
  const { app } = await start(t, {})
  t.equal(app.metricsServer, null)
  t.throws(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' }), /invalid METRICS_PORT: 3000 is the MCP port/)
})
