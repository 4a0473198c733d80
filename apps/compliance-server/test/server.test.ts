import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { buildApp } from '../src/app.js'
import { ALL_SCOPES, setupAuth } from '../src/auth.js'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/services.js'

const SECRET = 'test-secret-that-is-long-enough-0123456789'

type Services = Awaited<ReturnType<typeof createServices>>
interface AuditRecord { kind?: string, tool: string, outcome: string, caller: { subject: string }, session: unknown, protocolVersion: string, effects?: Record<string, unknown> }

async function auditRecords (services: Services): Promise<AuditRecord[]> {
  const out: AuditRecord[] = []
  for await (const line of services.records.lines()) if ('record' in line) out.push(line.record as AuditRecord)
  return out
}

async function start (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, token: (sub: string, scopes: string[]) => Promise<string>, services: Services }> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-'))
  const config = loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', MCP_PUBLIC_URL: 'http://127.0.0.1/mcp' })
  const services = await createServices(config)
  const { auth } = await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger: false })
  t.teardown(async () => { await app.close(); await services.records.close().catch(() => {}) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const token = async (sub: string, scopes: string[]): Promise<string> => await new SignJWT({ scope: scopes.join(' '), client_id: 'tests' })
    .setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setAudience('http://127.0.0.1/mcp').setSubject(sub).setIssuedAt().setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
  return { url, token, services }
}

async function connect (url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'tests', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

t.test('every tool answers with structured content stamped with the verified caller, and the audit log has the same record', async (t) => {
  const { url, token, services } = await start(t)
  const client = await connect(url, await token('analyst-1', [...ALL_SCOPES]))
  const tools = (await client.listTools()).tools
  t.same(tools.map((x) => x.name).sort(), ['add_case_note', 'country_risk', 'get_case', 'get_sanctions_entry', 'list_alerts', 'list_sources', 'record_decision', 'review_decision', 'screen_batch', 'screen_sanctions', 'triage_alert', 'unwatch_subject', 'validate_identifier', 'watch_subject'])
  t.ok(tools.every((x) => x.outputSchema !== undefined && x.description !== undefined && (x._meta?.requiredScopes as string[]).length === 1))

  const screen = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Banco Nacional de Cuba' } })
  const s = screen.structuredContent as { alertId: string, hits: Array<{ id: string }>, audit: { caller: { subject: string, clientId: string, scopes: string[] }, tool: string, inputSha256: string }, datasets: unknown[], algorithm: { threshold: number } }
  t.equal(s.hits[0]?.id, '306')
  t.equal(s.audit.caller.subject, 'analyst-1')
  t.equal(s.audit.caller.clientId, 'tests')
  t.equal(s.audit.tool, 'screen_sanctions')
  t.match(s.audit.inputSha256, /^[0-9a-f]{64}$/)
  t.equal(s.datasets.length, 2)
  t.match((screen.content as Array<{ text: string }>)[0]?.text, /"subject": "analyst-1"/, 'the text rendering carries the stamp too')

  const risk = await client.callTool({ name: 'country_risk', arguments: { country: 'Burma' } })
  t.match(risk.structuredContent, { country: { alpha2: 'MM' }, riskLevel: 'high', asOf: { fatf: '2026-06-19' } })
  const badCountry = await client.callTool({ name: 'country_risk', arguments: { country: 'Atlantis' } })
  t.equal(badCountry.isError, true)
  t.match((badCountry.content as Array<{ text: string }>)[0]?.text, /unknown country/)
  const iban = await client.callTool({ name: 'validate_identifier', arguments: { kind: 'iban', value: 'GB82WEST12345698765432' } })
  t.match(iban.structuredContent, { valid: true })
  const entry = await client.callTool({ name: 'get_sanctions_entry', arguments: { source: 'UN', id: 'KPe.001' } })
  t.match(entry.structuredContent, { entry: { source: 'UN', id: 'KPe.001', type: 'entity' } })
  const putin = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Vladimir Putin', birthDate: '1990-02-02', type: 'individual', threshold: 0.85 } })
  const alertId = (putin.structuredContent as { alertId: string }).alertId
  t.match(alertId, /^ALERT-/, 'an answer with a hit opens an alert')
  const triage = await client.callTool({ name: 'triage_alert', arguments: { alertId, hit: { source: 'X', id: 'forged', matchedName: 'nobody', score: 0.1 }, subject: { name: 'Someone Else' } } })
  t.match(triage.structuredContent, { alertId, caseId: alertId, hit: { source: 'OFAC-SDN', id: '35096' }, suggestion: 'probable_false_positive', final: false }, 'hit and subject are read from the stored alert')
  const decision = await client.callTool({ name: 'record_decision', arguments: { alertId, decision: 'false_positive', note: 'different date of birth' } })
  t.match(decision.structuredContent, { alertId, alertState: 'proposed', decision: { decidedBy: 'analyst-1', decision: 'false_positive', state: 'proposed' } })
  await client.callTool({ name: 'add_case_note', arguments: { caseId: alertId, note: 'checked passport' } })
  const kase = await client.callTool({ name: 'get_case', arguments: { alertId } })
  t.match(kase.structuredContent, { alertId, case: { alert: { state: 'proposed', hits: [{ id: '35096' }], datasets: [{}, {}], algorithm: { threshold: 0.85 }, openedBy: { subject: 'analyst-1' } }, decisions: [{ decidedBy: 'analyst-1' }], notes: [{ author: 'analyst-1', note: 'checked passport' }] } })
  const unknown = await client.callTool({ name: 'get_case', arguments: { alertId: 'ALERT-42' } })
  t.equal(unknown.isError, true)
  t.match((unknown.content as Array<{ text: string }>)[0]?.text, /no alert "ALERT-42"/)
  const sources = await client.callTool({ name: 'list_sources', arguments: {} })
  t.match(sources.structuredContent, { algorithm: { defaultThreshold: 0.88 } })
  const invalid = await client.callTool({ name: 'screen_sanctions', arguments: { name: '' } })
  t.equal(invalid.isError, true, 'bad input is a clear tool error')

  const log = await auditRecords(services)
  t.equal(log.length, 13, 'one record per validated call, errors included, plus the refusal of the invalid call')
  t.same(log.filter((l) => (l as { kind?: string }).kind === 'refusal').map((l) => [l.tool, l.outcome]), [['screen_sanctions', 'refused']], 'the invalid input is audited as a refusal (plugin onRefusal)')
  t.ok(log.every((l) => l.caller.subject === 'analyst-1'))
  t.same(log.filter((l) => l.outcome === 'error').map((l) => l.tool), ['country_risk', 'get_case'])
  t.match(log.find((l) => l.tool === 'record_decision')?.effects, { alertId, alertState: 'proposed' }, 'the transition is in the audit record')
  t.notMatch(JSON.stringify(log), /eyJ/, 'no token in the audit log')
  t.match(await services.records.verify(), { ok: true, records: 13 })
  await client.close()
})

t.test('the same service under 2026-07-28: the SDK v2 client without a session, the caller stamped, scopes refused from Mcp-Name', async (t) => {
  const { url, token, services } = await start(t)
  const good = await token('analyst-9', [...ALL_SCOPES])
  const client = new ClientV2({ name: 'modern', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await client.connect(new TransportV2(new URL(url), { requestInit: { headers: { authorization: `Bearer ${good}` } } }))
  t.equal(client.getProtocolEra(), 'modern')
  t.equal((await client.listTools()).tools.length, 14)
  const screen = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'BANCO NACIONAL DE CUBA' } })
  t.match(screen.structuredContent, { hits: [{ source: 'OFAC-SDN', id: '306' }], audit: { tool: 'screen_sanctions', caller: { subject: 'analyst-9', clientId: 'tests' } } })
  await client.close()
  const line = (await auditRecords(services)).at(-1)
  t.match(line, { session: null, protocolVersion: '2026-07-28', caller: { subject: 'analyst-9' } }, 'the audit log records the era')

  const weak = await token('analyst-10', ['sanctions:read'])
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${weak}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'record_decision' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'record_decision', arguments: { alertId: 'A-9', decision: 'confirmed_hit', note: 'x' }, _meta: meta } })
  })
  t.equal(res.status, 403)
  t.match(res.headers.get('www-authenticate'), /error="insufficient_scope".*scope="alerts:decide"/)
  const refusals = (await auditRecords(services)).filter((l) => l.kind === 'refusal')
  t.equal(refusals.length, 1, 'the refused call was never run (its refusal audit comes with the plugin\'s onRefusal)')
  t.match(refusals[0], { kind: 'refusal', tool: 'record_decision', outcome: 'refused', caller: { subject: 'analyst-10' } })
  t.notMatch(JSON.stringify(refusals), weak, 'no token material in the refusal record')
  t.notMatch(JSON.stringify(refusals), /eyJ/, 'no token material in the refusal record')
})

t.test('each tool refuses a token without its scope: 403 before the handler runs', async (t) => {
  const { url, token, services } = await start(t)
  const weak = await token('analyst-2', ['nothing'])
  const init = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${weak}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) })
  const sid = init.headers.get('mcp-session-id') as string
  const scopes: Record<string, string> = { screen_sanctions: 'sanctions:screen', screen_batch: 'sanctions:screen', get_sanctions_entry: 'sanctions:read', list_sources: 'sanctions:read', country_risk: 'risk:read', validate_identifier: 'identifiers:validate', triage_alert: 'alerts:triage', record_decision: 'alerts:decide', review_decision: 'alerts:approve', list_alerts: 'cases:read', add_case_note: 'cases:write', get_case: 'cases:read', watch_subject: 'sanctions:screen', unwatch_subject: 'sanctions:screen' }
  for (const [tool, scope] of Object.entries(scopes)) {
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${weak}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: tool, arguments: {} } }) })
    t.equal(res.status, 403, tool)
    t.match(res.headers.get('www-authenticate'), new RegExp(`error="insufficient_scope".*scope="${scope}"`), tool)
    t.match(await res.json(), { id: 2, error: { message: new RegExp(tool) } })
  }
  const after = await auditRecords(services)
  t.same(after.filter((l) => l.kind !== 'refusal'), [], 'no handler ran')
  t.same(after.map((l) => l.tool).sort(), Object.keys(scopes).sort(), 'each refusal is audited once (plugin onRefusal)')
  t.ok(after.every((l) => l.kind === 'refusal' && l.outcome === 'refused'))
  t.notMatch(JSON.stringify(after), /eyJ/, 'no token material in the refusal records')
})

t.test('the caller comes from the current token: a refreshed token with other scopes is seen at once', async (t) => {
  const { url, token } = await start(t)
  const first = await token('analyst-3', ['sanctions:read'])
  const init = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${first}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) })
  const sid = init.headers.get('mcp-session-id') as string
  const call = async (tk: string): Promise<{ scopes: string[] }> => {
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${tk}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_sources', arguments: {} } }) })
    return ((await res.json()) as { result: { structuredContent: { audit: { caller: { scopes: string[] } } } } }).result.structuredContent.audit.caller
  }
  t.same((await call(first)).scopes, ['sanctions:read'])
  const second = await token('analyst-3', ['sanctions:read', 'cases:read'])
  t.same((await call(second)).scopes, ['sanctions:read', 'cases:read'])
  const other = await token('someone-else', ['sanctions:read'])
  const stolen = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${other}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }) })
  t.equal(stolen.status, 404, 'another principal cannot use the session')
})

t.test('a call whose audit line cannot be written fails instead of answering', async (t) => {
  const { url, token, services } = await start(t)
  const client = await connect(url, await token('analyst-4', [...ALL_SCOPES]))
  const ok = await client.callTool({ name: 'list_sources', arguments: {} })
  t.notOk(ok.isError)
  await services.records.close() // the store is gone: every later append fails, like a lost database
  const failed = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Vladimir Putin' } })
  t.equal(failed.isError, true)
  t.notOk(failed.structuredContent, 'no result is returned')
  t.match((failed.content as Array<{ text: string }>)[0]?.text, /audit record could not be written/)
  await client.close()
})

t.test('health and readiness', async (t) => {
  const { url } = await start(t)
  const base = url.replace(/\/mcp$/, '')
  t.same(await (await fetch(`${base}/health`)).json(), { status: 'ok' })
  const ready = await (await fetch(`${base}/ready`)).json() as { status: string, checks: unknown, sources: Array<{ id: string, kind: string, stale: boolean }> }
  t.equal(ready.status, 'ready')
  t.same(ready.checks, { sanctionsLists: true, listsFresh: true, auditLog: true, records: true, redis: null })
  t.same(ready.sources.map((x) => [x.id, x.kind, x.stale]), [['ofac-sample', 'path', false], ['un-sample/consolidated.sample.xml', 'path', false]])
  const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json() as { scopes_supported: string[], resource: string }
  t.same(prm.scopes_supported, [...ALL_SCOPES].sort())
  t.equal(prm.resource, 'http://127.0.0.1/mcp')
})
