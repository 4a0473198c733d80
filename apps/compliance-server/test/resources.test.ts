import t from 'tap'
import { randomUUID } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { buildApp } from '../src/app.js'
import { ALL_SCOPES, setupAuth } from '../src/auth.js'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/services.js'
import { until } from './helpers/wait.js'

const SECRET = 'test-secret-that-is-long-enough-0123456789'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
type Services = Awaited<ReturnType<typeof createServices>>

/** Skip reason when no Redis answers (a failure in CI, never a skip), or false. */
async function redisSkip (): Promise<string | false> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    await r.ping()
    return false
  } catch {
    if (process.env.CI !== undefined) throw new Error(`CI: no Redis reachable at ${REDIS_URL}`)
    return `skipped: no Redis reachable at ${REDIS_URL} (set REDIS_URL)`
  } finally {
    r.disconnect()
  }
}
const skip = await redisSkip()
type Text = { uri: string, mimeType?: string, text: string }
interface AuditRecord { method?: string, resource?: string, outcome: string, caller: { subject: string } }

async function auditRecords (services: Services): Promise<AuditRecord[]> {
  const out: AuditRecord[] = []
  for await (const line of services.records.lines()) if ('record' in line) out.push(line.record as AuditRecord)
  return out
}

/** Opens a real alert: a screening with a hit on the shipped OFAC sample (Putin, SDN entry 35096). */
async function openAlert (client: Client | ClientV2): Promise<string> {
  const res = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Vladimir Putin', type: 'individual' } })
  const alertId = (res.structuredContent as { alertId?: string }).alertId
  if (alertId === undefined) throw new Error(`no alert opened: ${JSON.stringify(res.content)}`)
  return alertId
}

async function dataDir (): Promise<string> {
  return await mkdtemp(join(tmpdir(), 'cs-res-'))
}

async function signer (sub: string, scopes: string[]): Promise<string> {
  return await new SignJWT({ scope: scopes.join(' '), client_id: 'tests' })
    .setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setAudience('http://127.0.0.1/mcp').setSubject(sub).setIssuedAt().setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

async function start (t: { teardown: (fn: () => unknown) => void }, extra: Record<string, string> = {}, shared?: Services): Promise<{ url: string, services: Services }> {
  const config = loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, PORT: '0', DATA_DIR: await dataDir(), LOG_LEVEL: 'silent', MCP_PUBLIC_URL: 'http://127.0.0.1/mcp', ...extra })
  const services = shared ?? await createServices(config)
  const { auth } = await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger: false })
  t.teardown(async () => { await app.close(); if (shared === undefined) await services.records.close().catch(() => {}) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`, services }
}

async function v1 (t: { teardown: (fn: () => unknown) => void }, url: string, scopes: string[], sub = 'analyst-1'): Promise<Client> {
  const client = new Client({ name: 'tests', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${await signer(sub, scopes)}` } } }))
  t.teardown(() => client.close())
  return client
}

async function v2 (t: { teardown: (fn: () => unknown) => void }, url: string, scopes: string[], sub = 'analyst-2'): Promise<ClientV2> {
  const client = new ClientV2({ name: 'tests-v2', version: '1' })
  await client.connect(new TransportV2(new URL(url), { requestInit: { headers: { authorization: `Bearer ${await signer(sub, scopes)}` } } }))
  t.teardown(() => client.close())
  return client
}

/** Collects `notifications/resources/updated` on a v1 client; `until` triggers the change again until it is heard (the GET stream opens asynchronously), bounded. */
function updates (client: Client): { heard: string[], until: (uri: string, trigger: () => Promise<unknown>) => Promise<boolean> } {
  const heard: string[] = []
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { heard.push(n.params.uri) })
  return {
    heard,
    until: async (uri, trigger) => {
      for (let i = 0; i < 50 && !heard.includes(uri); i++) {
        await trigger()
        await until(() => heard.includes(uri), 200)
      }
      return heard.includes(uri)
    }
  }
}

t.test('SDK v1: resources/list and templates/list, each resource read as JSON and text, unknown URIs and cursors, every read audited', async (t) => {
  const { url, services } = await start(t)
  const client = await v1(t, url, [...ALL_SCOPES])
  const caps = client.getServerCapabilities()
  t.match(caps, { resources: { subscribe: true }, prompts: {}, completions: {} })
  const list = await client.listResources()
  t.same(list.resources.map((r) => r.uri), ['sanctions://sources', 'risk://countries'], 'the fixed resources; entries and cases come through the templates')
  t.equal(list.nextCursor, undefined, 'one page')
  const templates = await client.listResourceTemplates()
  t.same(templates.resourceTemplates.map((r) => r.uriTemplate).sort(), ['case://{alertId}', 'sanctions://entry/{source}/{id}'])
  await t.rejects(client.listResources({ cursor: 'bogus' }), /Invalid cursor/)

  const sources = await client.readResource({ uri: 'sanctions://sources' })
  const [json, text] = sources.contents as Text[]
  t.equal(json?.mimeType, 'application/json')
  const body = JSON.parse(json?.text ?? '{}') as { datasets: Array<{ source: string, sha256: string, records: number, publishedAt: string | null, fileDate?: string }> }
  t.same(body.datasets.map((d) => d.source).sort(), ['OFAC-SDN', 'UN'])
  // publishedAt is the date the list states (YYYY-MM-DD) or null (OFAC CSV carries none); fileDate mirrors it only when known
  t.ok(body.datasets.every((d) => /^[0-9a-f]{64}$/.test(d.sha256) && d.records > 0 &&
    (d.publishedAt === null ? d.fileDate === undefined : /^\d{4}-\d{2}-\d{2}$/.test(d.publishedAt) && d.fileDate === d.publishedAt)))
  t.match(text, { mimeType: 'text/plain', text: /OFAC-SDN: .* records, sha256 [0-9a-f]{64}/ })

  const entry = await client.readResource({ uri: 'sanctions://entry/OFAC-SDN/306' })
  t.match(JSON.parse((entry.contents[0] as Text).text), { entry: { source: 'OFAC-SDN', id: '306', type: 'entity' }, datasets: [{ source: 'OFAC-SDN' }] })
  t.match((entry.contents[1] as Text).text, /BANCO NACIONAL DE CUBA — entity, OFAC-SDN entry 306/)
  await t.rejects(client.readResource({ uri: 'sanctions://entry/OFAC-SDN/999999999' }), /Resource not found: sanctions:\/\/entry\/OFAC-SDN\/999999999 \(no entry 999999999 in OFAC-SDN\)/)
  await t.rejects(client.readResource({ uri: 'nothing://at/all' }), /Resource not found: nothing:\/\/at\/all/)

  const missing = `ALERT-${randomUUID()}`
  await t.rejects(client.readResource({ uri: `case://${missing}` }), new RegExp(`no case "${missing}"`))
  const alertId = await openAlert(client)
  await client.callTool({ name: 'record_decision', arguments: { alertId, decision: 'false_positive', note: 'other date of birth' } })
  await client.callTool({ name: 'add_case_note', arguments: { alertId, note: 'passport checked' } })
  const kase = await client.readResource({ uri: `case://${alertId}` })
  t.match(JSON.parse((kase.contents[0] as Text).text), { case: { caseId: alertId, alertId, alert: { state: 'proposed', hits: [{ source: 'OFAC-SDN', id: '35096' }] }, decisions: [{ decision: 'false_positive', decidedBy: 'analyst-1', state: 'proposed' }], notes: [{ author: 'analyst-1', note: 'passport checked' }] } })
  t.match((kase.contents[1] as Text).text, /false_positive proposed by analyst-1: other date of birth[\s\S]*analyst-1: passport checked/)

  const risk = await client.readResource({ uri: 'risk://countries' })
  const r = JSON.parse((risk.contents[0] as Text).text) as { asOf: { fatf: string, eu: string }, lists: Array<{ list: string, status: string, asOf: string, countries: Array<{ alpha2: string }> }> }
  t.equal(r.asOf.fatf, '2026-06-19')
  t.ok(r.lists.find((l) => l.status === 'call_for_action')?.countries.some((c) => c.alpha2 === 'KP'), 'North Korea is on the FATF call for action')
  t.ok(r.lists.every((l) => l.asOf !== undefined))

  const reads = (await auditRecords(services)).filter((l) => l.method === 'resources/read')
  t.same(reads.map((l) => [l.resource, l.outcome]), [
    ['sanctions://sources', 'ok'],
    ['sanctions://entry/OFAC-SDN/306', 'ok'],
    ['sanctions://entry/OFAC-SDN/999999999', 'error'],
    [`case://${missing}`, 'error'],
    [`case://${alertId}`, 'ok'],
    ['risk://countries', 'ok']
  ], 'each read of a known resource is audited, failures included; an unknown URI never reaches a handler')
  t.ok(reads.every((l) => l.caller.subject === 'analyst-1'))
  t.match(await services.records.verify(), { ok: true })
})

t.test('scope refusals: each resource needs its own scope, in both SDKs', async (t) => {
  const { url } = await start(t)
  const none = await v1(t, url, ['identifiers:validate'])
  const none2 = await v2(t, url, ['identifiers:validate'])
  for (const [uri, scope] of [['sanctions://sources', 'sanctions:read'], ['sanctions://entry/UN/KPe.001', 'sanctions:read'], ['case://A-1', 'cases:read'], ['risk://countries', 'risk:read']] as const) {
    await t.rejects(none.readResource({ uri }), /scope/i, `v1: ${uri} without ${scope}`)
    await t.rejects(none2.readResource({ uri }), /scope/i, `v2: ${uri} without ${scope}`)
    const only = await v1(t, url, [scope])
    await only.readResource({ uri }).then(() => { t.pass(`${uri} with ${scope}`) }, (err: Error) => { t.notMatch(err.message, /scope/i, `${uri} with ${scope} is not refused for scope`) })
  }
  await t.rejects(none.subscribeResource({ uri: 'case://A-1' }), /scope/i, 'subscribing to a case needs cases:read')
  await t.rejects(none.complete({ ref: { type: 'ref/resource', uri: 'case://{alertId}' }, argument: { name: 'alertId', value: '' } }), /scope/i, 'completing a template needs its scope')
  t.match((await none.listPrompts()).prompts.map((p) => p.name).sort(), ['onboard_customer', 'screening_memo', 'triage_hit'], 'prompts are open to any authenticated caller')
  t.match(await none.getPrompt({ name: 'triage_hit', arguments: { alertId: 'A-1' } }), { messages: [{ role: 'user' }] })
})

t.test('SDK v2 (2026-07-28): lists, reads, prompts and completion', async (t) => {
  const { url } = await start(t)
  const client = await v2(t, url, [...ALL_SCOPES])
  t.same((await client.listResources()).resources.map((r) => r.uri), ['sanctions://sources', 'risk://countries'])
  t.equal((await client.listResourceTemplates()).resourceTemplates.length, 2)
  const entry = await client.readResource({ uri: 'sanctions://entry/UN/KPe.001' })
  t.match(JSON.parse((entry.contents[0] as Text).text), { entry: { source: 'UN', id: 'KPe.001' } })
  await t.rejects(client.readResource({ uri: 'case://no-such-case' }), /no case "no-such-case"/)
  const prompt = await client.getPrompt({ name: 'onboard_customer', arguments: { name: 'Ada Lovelace', country: 'GB', birthDate: '1815-12-10' } })
  t.match((prompt.messages[0]?.content as { text: string }).text, /screen_sanctions[\s\S]*country_risk[\s\S]*validate_identifier/)
  const sources = await client.complete({ ref: { type: 'ref/resource', uri: 'sanctions://entry/{source}/{id}' }, argument: { name: 'source', value: 'o' } })
  t.same(sources.completion.values, ['OFAC-SDN'])
  const countries = await client.complete({ ref: { type: 'ref/prompt', name: 'onboard_customer' }, argument: { name: 'country', value: 'Germ' } })
  t.same(countries.completion.values, ['Germany'])
})

t.test('prompts: the tools they name, the case embedded for a caller who may read it, argument errors, alert id completion from the caller\'s queue', async (t) => {
  const { url } = await start(t)
  const client = await v1(t, url, [...ALL_SCOPES])
  const { prompts } = await client.listPrompts()
  const byName = Object.fromEntries(prompts.map((p) => [p.name, p]))
  t.same(byName.triage_hit?._meta?.['compliance/expectedTools'], ['get_case', 'get_sanctions_entry', 'triage_alert', 'record_decision'])
  t.same(byName.screening_memo?._meta?.['compliance/expectedTools'], ['get_case', 'list_sources', 'get_sanctions_entry', 'add_case_note'])
  t.same(byName.onboard_customer?.arguments?.map((a) => [a.name, a.required]), [['name', true], ['country', true], ['birthDate', false]])

  const alertId = await openAlert(client)
  await client.callTool({ name: 'record_decision', arguments: { alertId, decision: 'escalated', note: 'same date of birth' } })
  const triage = await client.getPrompt({ name: 'triage_hit', arguments: { alertId } })
  const steps = (triage.messages[0]?.content as { text: string }).text
  t.match(steps, /OFAC[\s\S]*Which list[\s\S]*Which name and how strong[\s\S]*identifiers[\s\S]*record_decision/)
  t.match(steps, new RegExp(`"alertId": "${alertId}", "decision": "confirmed_hit" \\| "false_positive" \\| "escalated"`), 'ends with a proposed decision for record_decision')
  t.match(triage.messages[1]?.content, { type: 'resource', resource: { uri: `case://${alertId}` } }, 'the case file is attached')
  const outsider = await v1(t, url, ['sanctions:screen'], 'outsider')
  t.equal((await outsider.getPrompt({ name: 'triage_hit', arguments: { alertId } })).messages.length, 1, 'no case attached without cases:read')
  const memo = await client.getPrompt({ name: 'screening_memo', arguments: { alertId } })
  t.match((memo.messages[0]?.content as { text: string }).text, /Subject:[\s\S]*Lists screened:[\s\S]*Hits:[\s\S]*Decision:[\s\S]*Reviewer:/)

  await t.rejects(client.getPrompt({ name: 'triage_hit', arguments: {} }), /Missing required arguments for prompt triage_hit: alertId/)
  await t.rejects(client.getPrompt({ name: 'triage_hit', arguments: { alertId: 'a b/c' } }), /Invalid arguments for prompt triage_hit: alertId: letters, digits/)
  await t.rejects(client.getPrompt({ name: 'onboard_customer', arguments: { name: 'X', country: 'Atlantis' } }), /Invalid arguments for prompt onboard_customer: country: unknown country "Atlantis"/)
  await t.rejects(client.getPrompt({ name: 'onboard_customer', arguments: { name: 'X', country: 'FR', birthDate: '12/10/1815' } }), /birthDate: a date as YYYY-MM-DD/)
  await t.rejects(client.getPrompt({ name: 'onboard_customer', arguments: { name: '  ', country: 'FR' } }), /name: must not be empty/)
  await t.rejects(client.getPrompt({ name: 'no_such_prompt' }), /Unknown prompt/)

  const ids = await client.complete({ ref: { type: 'ref/prompt', name: 'triage_hit' }, argument: { name: 'alertId', value: 'ALERT-' } })
  t.ok(ids.completion.values.includes(alertId), 'the alert ids of cases the caller may read')
  t.same((await outsider.complete({ ref: { type: 'ref/prompt', name: 'triage_hit' }, argument: { name: 'alertId', value: 'ALERT-' } })).completion.values, [], 'none without cases:read')
  const template = await client.complete({ ref: { type: 'ref/resource', uri: 'case://{alertId}' }, argument: { name: 'alertId', value: alertId.slice(0, 6) } })
  t.ok(template.completion.values.includes(alertId))
})

t.test('sanctions://sources: a subscriber hears of a list refresh', async (t) => {
  const { url, services } = await start(t)
  const client = await v1(t, url, ['sanctions:read', 'risk:read'])
  const heard = updates(client)
  await client.subscribeResource({ uri: 'sanctions://sources' })
  await t.rejects(client.subscribeResource({ uri: 'risk://countries' }), /does not support subscriptions/)
  t.ok(await heard.until('sanctions://sources', async () => { services.sourcesChanged() }), 'notifications/resources/updated for sanctions://sources')
})

t.test('case://: a subscriber on one instance hears a decision and a note recorded through another (Redis bus)', { skip }, async (t) => {
  const shared = await createServices(loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, DATA_DIR: await dataDir() }))
  t.teardown(async () => { await shared.records.close().catch(() => {}) })
  // One records store behind both instances (as the database is); each instance announces the store's case changes.
  const a = await start(t, { REDIS_URL }, { ...shared })
  const b = await start(t, { REDIS_URL }, { ...shared })
  const watcher = await v1(t, a.url, ['cases:read'], 'watcher')
  const heard = updates(watcher)
  const writer = await v2(t, b.url, ['sanctions:screen', 'alerts:decide', 'cases:write'], 'analyst-b')
  const alertId = await openAlert(writer)
  await watcher.subscribeResource({ uri: `case://${alertId}` })
  await writer.callTool({ name: 'record_decision', arguments: { alertId, decision: 'confirmed_hit', note: 'same passport' } })
  t.ok(await heard.until(`case://${alertId}`, async () => { await writer.callTool({ name: 'add_case_note', arguments: { alertId, note: 'noted' } }) }), 'the watcher on A heard the change made through B')
  const kase = await watcher.readResource({ uri: `case://${alertId}` })
  t.match(JSON.parse((kase.contents[0] as Text).text), { case: { decisions: [{ decision: 'confirmed_hit', decidedBy: 'analyst-b' }] } })
  t.notOk(heard.heard.some((u) => u !== `case://${alertId}`), 'only the watched case')

  // 2026-07-28: a subscriptions/listen stream on A; once acknowledged it is registered, so one note through B is enough.
  const ac = new AbortController()
  t.teardown(() => { ac.abort() })
  const res = await fetch(a.url, {
    method: 'POST',
    signal: ac.signal,
    headers: { authorization: `Bearer ${await signer('watcher', ['cases:read'])}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { resourceSubscriptions: [`case://${alertId}`, 'risk://countries'] },
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} }
      }
    })
  })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const i = buffered.indexOf('\n\n')
      if (i >= 0) {
        const block = buffered.slice(0, i)
        buffered = buffered.slice(i + 2)
        const data = block.split('\n').find((l) => l.startsWith('data: '))
        if (data !== undefined) return JSON.parse(data.slice(6)) as Record<string, unknown>
        continue
      }
      const { value, done } = await reader.read()
      if (done) throw new Error('stream ended')
      buffered += decoder.decode(value)
    }
  }
  t.match(await next(), { method: 'notifications/subscriptions/acknowledged', params: { notifications: { resourceSubscriptions: [`case://${alertId}`] } } }, 'the case is honoured, risk://countries (not subscribable) is not')
  await writer.callTool({ name: 'add_case_note', arguments: { alertId, note: 'for the listener' } })
  t.match(await next(), { method: 'notifications/resources/updated', params: { uri: `case://${alertId}` } }, 'the 2026 listener on A heard the note made through B')
})
