import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import fastifyMcp, { type FastifyMcpOptions } from '../src/index.js'
import { ACC, buildApp, initBody, parseSse } from './helpers/http.js'
import { until } from './helpers/wait.js'
import { modernMeta, modernRequest } from './helpers/modern.js'

const V = '2026-07-28'
// Parsed JSON-RPC replies are read field by field in assertions; each assertion checks the shape it reads.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any
const META = modernMeta
const req = modernRequest

async function post (app: FastifyInstance, r: { body: unknown, headers: Record<string, string> }, headers: Record<string, string | undefined> = {}): Promise<{ status: number, json: Json, headers: Record<string, unknown>, body: string }> {
  const h: Record<string, string> = { ...r.headers }
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k]
    else h[k] = v
  }
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: h, payload: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) })
  let json: unknown = null
  try { json = JSON.parse(res.body) } catch { json = null }
  return { status: res.statusCode, json, headers: res.headers, body: res.body }
}

async function modernApp (t: { teardown: (fn: () => unknown) => void }, opts: Partial<FastifyMcpOptions> = {}): Promise<Awaited<ReturnType<typeof buildApp>>> {
  const app = await buildApp(opts)
  app.mcp.tool({
    name: 'regional',
    description: 'A tool whose region argument is mirrored into a header',
    input: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, shard: { type: 'integer', 'x-mcp-header': 'Shard' } }, required: ['region'] },
    handler: (args) => ({ content: [{ type: 'text', text: `${String(args.region)}/${String(args.shard)}` }] })
  })
  app.mcp.tool({
    name: 'ask_name',
    description: 'Asks for a name',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'Name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }, { key: 'name' })
      return { content: [{ type: 'text', text: `hi ${String(r.content?.name)} (${ctx.client.protocolVersion}, ${ctx.client.info?.name ?? '?'})` }] }
    }
  })
  app.mcp.tool({ name: 'chatty', description: 'Logs at two levels', handler: async (_args, ctx) => { await ctx.log('debug', 'fine detail'); await ctx.log('warning', 'careful'); return { content: [{ type: 'text', text: 'ok' }] } } })
  app.mcp.prompt({ name: 'broken', description: 'Fails', handler: () => { throw new Error('disk on fire') } })
  app.mcp.prompt({ name: 'greet', description: 'A greeting', arguments: [{ name: 'who', required: true }], handler: ({ who }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hello ${who}` } }] }) })
  t.teardown(() => app.close())
  return app
}

t.test('server/discover, resultType, caching hints and serverInfo on every result', async (t) => {
  const app = await modernApp(t)
  const d = await post(app, req(1, 'server/discover'))
  t.equal(d.status, 200)
  t.match(d.json.result, { resultType: 'complete', supportedVersions: [V], capabilities: { tools: { listChanged: true }, prompts: {}, resources: { subscribe: true } }, ttlMs: 0, cacheScope: 'public' })
  t.same(d.json.result._meta['io.modelcontextprotocol/serverInfo'], { name: 'test-server', version: '1.0.0' })
  t.notOk('serverInfo' in d.json.result, 'serverInfo lives in _meta, not in the body')
  for (const method of ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) {
    const r = await post(app, req(2, method))
    t.match(r.json.result, { resultType: 'complete', ttlMs: 0, cacheScope: 'public' }, method)
  }
  const read = await post(app, req(3, 'resources/read', { uri: 'test://r' }))
  t.match(read.json.result, { resultType: 'complete', contents: [{ uri: 'test://r', text: 'r' }], ttlMs: 0, cacheScope: 'public' })
  const call = await post(app, req(4, 'tools/call', { name: 'echo', arguments: { text: 'x' } }))
  t.same(call.json, { jsonrpc: '2.0', id: 4, result: { content: [{ type: 'text', text: 'x' }], resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'test-server', version: '1.0.0' } } } })
  t.notOk('ttlMs' in call.json.result, 'a tool result carries no caching hints')
  const prompt = await post(app, req(5, 'prompts/get', { name: 'greet', arguments: { who: 'ada' } }))
  t.match(prompt.json.result, { resultType: 'complete', messages: [{ content: { text: 'hello ada' } }] })
  t.equal(call.headers['mcp-session-id'], undefined, 'no session is minted')
  const broken = await post(app, req(6, 'prompts/get', { name: 'broken' }))
  t.same([broken.status, broken.json], [200, { jsonrpc: '2.0', id: 6, error: { code: -32603, message: 'Internal error' } }], 'a failing handler is an in-band -32603 that tells nothing of the cause')
})

t.test('per-request envelope: missing or malformed → 400 -32602; unsupported version → 400 -32022 with the supported list', async (t) => {
  const app = await modernApp(t)
  const base = req(1, 'server/discover')
  const noMeta = await post(app, { ...base, body: { jsonrpc: '2.0', id: 101, method: 'server/discover', params: {} } })
  t.equal(noMeta.status, 400)
  t.match(noMeta.json, { id: 101, error: { code: -32602 } })
  const noCaps = await post(app, { ...base, body: { jsonrpc: '2.0', id: 104, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V } } } })
  t.match([noCaps.status, noCaps.json.error.code], [400, -32602], 'clientCapabilities is required')
  const noInfo = await post(app, { ...base, body: { jsonrpc: '2.0', id: 105, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} } } } })
  t.equal(noInfo.status, 200, 'clientInfo is optional')
  const badLevel = await post(app, req(6, 'tools/list', {}, { 'io.modelcontextprotocol/logLevel': 'loud' }))
  t.match([badLevel.status, badLevel.json.error.code], [400, -32602])
  const future = await post(app, req(301, 'server/discover', {}, { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }), { 'mcp-protocol-version': '2099-01-01' })
  t.equal(future.status, 400)
  t.same(future.json, { jsonrpc: '2.0', id: 301, error: { code: -32022, message: 'Unsupported protocol version: 2099-01-01', data: { supported: [V], requested: '2099-01-01' } } })
  const old = await post(app, req(302, 'server/discover', {}, { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' }), { 'mcp-protocol-version': '2025-11-25' })
  t.match([old.status, old.json.error], [400, { code: -32022, data: { requested: '2025-11-25' } }], 'an envelope naming a 2025 version is refused (2025 clients initialize)')
})

t.test('routing headers are checked against the body: 400 -32020', async (t) => {
  const app = await modernApp(t)
  const list = req(1, 'tools/list')
  const call = req(2, 'tools/call', { name: 'echo', arguments: { text: 'x' } })
  const cases: Array<[string, ReturnType<typeof req>, Record<string, string | undefined>]> = [
    ['version header differs from the envelope', list, { 'mcp-protocol-version': '2025-11-25' }],
    ['version header missing', list, { 'mcp-protocol-version': undefined }],
    ['Mcp-Method differs', list, { 'mcp-method': 'prompts/list' }],
    ['Mcp-Method missing', list, { 'mcp-method': undefined }],
    ['Mcp-Method values are case-sensitive', list, { 'mcp-method': 'TOOLS/LIST' }],
    ['Mcp-Name differs', call, { 'mcp-name': 'other' }],
    ['Mcp-Name missing', call, { 'mcp-name': undefined }],
    ['Mcp-Name with invalid Base64', call, { 'mcp-name': '=?base64?ZWNo!!!?=' }]
  ]
  for (const [what, r, h] of cases) {
    const res = await post(app, r, h)
    t.equal(res.status, 400, what)
    t.equal(res.json?.error?.code, -32020, what)
    t.equal(res.json?.id, r.body.id, `${what}: the error names the request`)
  }
  t.equal((await post(app, call, { 'mcp-name': '  echo  ' })).status, 200, 'optional whitespace is trimmed')
  t.equal((await post(app, call, { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` })).status, 200, 'a Base64 sentinel is decoded')
  t.equal((await post(app, list, { 'MCP-METHOD': 'tools/list' })).status, 200, 'header names are case-insensitive')
})

t.test('x-mcp-header arguments must be mirrored into Mcp-Param-* headers', async (t) => {
  const app = await modernApp(t)
  const call = (args: Record<string, unknown>): ReturnType<typeof req> => req(1, 'tools/call', { name: 'regional', arguments: args })
  const ok = await post(app, call({ region: 'eu-west', shard: 42 }), { 'mcp-param-region': 'eu-west', 'mcp-param-shard': '42.0' })
  t.equal(ok.json.result.content[0].text, 'eu-west/42', 'integers compare numerically')
  t.equal((await post(app, call({ region: 'Hello' }), { 'mcp-param-region': '=?base64?SGVsbG8=?=' })).status, 200, 'Base64 sentinel')
  t.equal((await post(app, call({ region: 'SGVsbG8=' }), { 'mcp-param-region': 'SGVsbG8=' })).status, 200, 'no sentinel: literal')
  t.equal((await post(app, call({ region: '=?base64?SGVsbG8=' }), { 'mcp-param-region': '=?base64?SGVsbG8=' })).status, 200, 'no suffix: literal')
  for (const [what, args, h] of [
    ['header missing', { region: 'x' }, {}],
    ['header differs', { region: 'x' }, { 'mcp-param-region': 'y' }],
    ['bad padding', { region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVsbG8?=' }],
    ['bad characters', { region: 'Hello' }, { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' }],
    ['header without argument', { region: 'x' }, { 'mcp-param-region': 'x', 'mcp-param-shard': '1' }]
  ] as const) {
    const res = await post(app, call(args), h)
    t.match([res.status, res.json?.error?.code], [400, -32020], what)
  }
  const bad = Fastify()
  t.teardown(() => bad.close())
  await bad.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' } })
  t.throws(() => bad.mcp.tool({ name: 'nested', description: 'd', input: { type: 'object', properties: { list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } } } }, handler: () => ({ content: [] }) }), /x-mcp-header at \/properties\/list\/items must sit on a property/)
  t.throws(() => bad.mcp.tool({ name: 'num', description: 'd', input: { type: 'object', properties: { n: { type: 'number', 'x-mcp-header': 'N' } } }, handler: () => ({ content: [] }) }), /string, integer or boolean/)
  t.throws(() => bad.mcp.tool({ name: 'dup', description: 'd', input: { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'X' }, b: { type: 'string', 'x-mcp-header': 'x' } } }, handler: () => ({ content: [] }) }), /repeats/)
  t.throws(() => bad.mcp.tool({ name: 'tok', description: 'd', input: { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'has space' } } }, handler: () => ({ content: [] }) }), /header token/)
})

t.test('methods 2026-07-28 does not have answer 404 -32601; notifications 202; GET and DELETE stay 2025 session traffic', async (t) => {
  const app = await modernApp(t)
  for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe', 'unknown/method']) {
    const res = await post(app, req(500, method, method === 'resources/subscribe' ? { uri: 'test://r' } : {}))
    t.same([res.status, res.json?.error?.code, res.json?.id], [404, -32601, 500], method)
  }
  const n = await post(app, { body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: META() } }, headers: req(0, 'notifications/cancelled').headers })
  t.equal(n.status, 202)
  const ignored = await post(app, req(7, 'tools/list'), { 'mcp-session-id': 'not-a-session' })
  t.equal(ignored.status, 200, 'Mcp-Session-Id is ignored on a 2026 request')
  const get = await app.inject({ method: 'GET', url: '/mcp', headers: { accept: 'text/event-stream' } })
  t.equal(get.statusCode, 400, 'GET without a session is still the 2025 stream (400 without a session id)')
  for (const method of ['GET', 'DELETE'] as const) {
    const modern = await app.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream', 'mcp-protocol-version': V } })
    t.same([modern.statusCode, modern.headers.allow], [405, 'POST'], `${method} from a 2026-07-28 client: 405`)
  }
  const init = await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json' }, payload: initBody() })
  t.equal(init.statusCode, 200, 'initialize still opens a 2025 session')
  t.type(init.headers['mcp-session-id'], 'string')
})

t.test('eras: "modern" refuses 2025 traffic with the supported list; "legacy" serves 2025 only', async (t) => {
  const modern = await modernApp(t, { eras: 'modern' })
  const init = await modern.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json' }, payload: initBody() })
  t.equal(init.statusCode, 400)
  t.match(JSON.parse(init.body), { id: 1, error: { code: -32022, data: { supported: [V] } } })
  for (const method of ['GET', 'DELETE'] as const) {
    const res = await modern.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream' } })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'POST')
  }
  t.equal((await post(modern, req(1, 'tools/list'))).status, 200)

  const legacy = await modernApp(t, { eras: 'legacy' })
  const r = await post(legacy, req(1, 'tools/list'))
  t.equal(r.status, 400)
  t.match(r.json, { error: { message: /Mcp-Session-Id header is required/ } }, 'a 2026 request is 2025 traffic without a session: clients fall back to initialize')
  const client = new ClientV2({ name: 'auto', version: '1' }, { versionNegotiation: { mode: 'auto' } })
  await legacy.listen({ port: 0, host: '127.0.0.1' })
  await client.connect(new TransportV2(new URL(`http://127.0.0.1:${(legacy.server.address() as { port: number }).port}/mcp`)))
  t.equal(client.getProtocolEra(), 'legacy', 'the SDK v2 client in auto mode falls back to a 2025 session')
  t.equal((await client.callTool({ name: 'echo', arguments: { text: 'fallback' } })).content[0]?.type, 'text')
  await client.close()
  t.rejects(Promise.resolve().then(async () => await modernApp(t, { eras: 'new' as never })), /eras must be/)
  t.rejects(Promise.resolve().then(async () => await modernApp(t, { modern: { requestStateSecret: 'short' } })), /at least 32 bytes/)
})

t.test('progress and logs make the reply a per-request SSE stream without event ids; logs only when the request names a level', async (t) => {
  const app = await modernApp(t)
  const p = await post(app, req(1, 'tools/call', { name: 'progress', arguments: {} }, { progressToken: 'tok' }))
  t.match(p.headers['content-type'], /text\/event-stream/)
  const events = parseSse(p.body)
  t.ok(events.every((e) => e.id === undefined), 'no SSE ids: 2026 streams are not resumable')
  const messages = events.map((e) => JSON.parse(e.data))
  t.same(messages.slice(0, 3).map((m) => m.params.progress), [0, 50, 100])
  t.match(messages[3], { id: 1, result: { resultType: 'complete', content: [{ text: 'done' }] } })
  const quiet = await post(app, req(2, 'tools/call', { name: 'chatty', arguments: {} }))
  t.match(quiet.headers['content-type'], /application\/json/, 'no logLevel: no notifications/message, a plain JSON reply')
  const loud = await post(app, req(3, 'tools/call', { name: 'chatty', arguments: {} }, { 'io.modelcontextprotocol/logLevel': 'info' }))
  const logs = parseSse(loud.body).map((e) => JSON.parse(e.data)).filter((m) => m.method === 'notifications/message')
  t.same(logs.map((m) => m.params.data), ['careful'], 'only levels at or above the one asked for')
})

t.test('input rounds: input_required with sealed state, retry with answers, tampering and replay refused, capabilities required', async (t) => {
  const app = await modernApp(t)
  const elicitCaps = { 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } }
  const first = await post(app, req(1, 'tools/call', { name: 'ask_name', arguments: {} }, elicitCaps))
  t.equal(first.status, 200)
  const ir = first.json.result
  t.match(ir, { resultType: 'input_required', inputRequests: { name: { method: 'elicitation/create', params: { message: 'Name?' } } } })
  t.type(ir.requestState, 'string')
  const answer = { name: { action: 'accept', content: { name: 'ada' } } }
  const done = await post(app, req(2, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: answer, requestState: ir.requestState }, elicitCaps))
  t.equal(done.json.result.content[0].text, 'hi ada (2026-07-28, raw)')
  const stateless = await post(app, req(3, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: { ...answer, extra: { action: 'accept' } } }, elicitCaps))
  t.equal(stateless.json.result.resultType, 'complete', 'answers need no state; unknown keys are ignored')
  const tampered = await post(app, req(4, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: answer, requestState: `${String(ir.requestState)}x` }, elicitCaps))
  t.match(tampered.json, { id: 4, error: { code: -32602, message: /requestState/ } })
  const elsewhere = await post(app, req(5, 'tools/call', { name: 'regional', arguments: { region: 'a' }, requestState: ir.requestState }, elicitCaps), { 'mcp-param-region': 'a' })
  t.match(elsewhere.json, { error: { code: -32602 } }, 'state minted for one tool is refused by another')
  const wrongShape = await post(app, req(6, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: { name: 12345 } }, elicitCaps))
  t.match(wrongShape.json, { error: { code: -32602, message: /Invalid input response "name"/ } })
  const schema = await post(app, req(7, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: { name: { action: 'accept', content: { age: 3 } } } }, elicitCaps))
  t.match(schema.json, { error: { code: -32602, message: /requested schema/ } }, 'accepted content is checked against the requested schema')
  const nullResponses = await post(app, req(8, 'tools/call', { name: 'ask_name', arguments: {}, inputResponses: null }, elicitCaps))
  t.match(nullResponses.json, { error: { code: -32602 } })
  const noCap = await post(app, req(9, 'tools/call', { name: 'ask_name', arguments: {} }))
  t.equal(noCap.status, 400)
  t.match(noCap.json, { id: 9, error: { code: -32021, data: { requiredCapabilities: { elicitation: {} } } } })
})

t.test('subscriptions/listen: acknowledgement first, subscription ids, the filter honoured, graceful end on shutdown', async (t) => {
  const app = await modernApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const open = async (id: number, notifications: Record<string, unknown>): Promise<{ next: () => Promise<Json>, close: () => void }> => {
    const r = req(id, 'subscriptions/listen', { notifications })
    const ac = new AbortController()
    const res = await fetch(url, { method: 'POST', headers: r.headers, body: JSON.stringify(r.body), signal: ac.signal })
    t.match(res.headers.get('content-type'), /text\/event-stream/)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let buffered = ''
    return {
      next: async () => {
        while (!buffered.includes('\n\n')) {
          const { value, done } = await reader.read()
          if (done) return null
          buffered += decoder.decode(value)
        }
        const i = buffered.indexOf('\n\n')
        const block = buffered.slice(0, i)
        buffered = buffered.slice(i + 2)
        const data = block.split('\n').find((l) => l.startsWith('data: '))
        return data === undefined ? null : JSON.parse(data.slice(6))
      },
      close: () => { ac.abort() }
    }
  }
  const tools = await open(11, { toolsListChanged: true, resourceSubscriptions: ['test://r', 'test://unknown'] })
  t.same(await tools.next(), { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 11 }, notifications: { toolsListChanged: true, resourceSubscriptions: ['test://r'] } } }, 'the acknowledgement lists what is honoured')
  const prompts = await open(12, { promptsListChanged: true })
  t.equal((await prompts.next()).method, 'notifications/subscriptions/acknowledged')
  await app.mcp.listChanged('tools')
  await app.mcp.resourceUpdated('test://r')
  await app.mcp.listChanged('prompts')
  t.same(await tools.next(), { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 11 } } })
  t.same(await tools.next(), { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'test://r', _meta: { 'io.modelcontextprotocol/subscriptionId': 11 } } })
  t.same(await prompts.next(), { jsonrpc: '2.0', method: 'notifications/prompts/list_changed', params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 12 } } }, 'the prompts stream got no tools or resource notification')
  const bad = await fetch(url, { method: 'POST', headers: req(13, 'subscriptions/listen').headers, body: JSON.stringify(req(13, 'subscriptions/listen', { notifications: 'all' }).body) })
  t.match([bad.status, (await bad.json() as Json).error.code], [400, -32602])
  prompts.close()
  await app.close()
  t.match(await tools.next(), { id: 11, result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 11 } } }, 'shutdown ends a stream with the listen result')
  t.equal(await tools.next(), null, 'then closes it')
})

t.test('a client closing its connection aborts the 2026 call', async (t) => {
  const app = await modernApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const r = req(1, 'tools/call', { name: 'slow', arguments: { ms: 5000 } })
  const ac = new AbortController()
  const pending = fetch(url, { method: 'POST', headers: r.headers, body: JSON.stringify(r.body), signal: ac.signal }).catch(() => null)
  t.ok(await until(() => app.calls.slowStarted > 0), 'the handler runs')
  ac.abort()
  await pending
  await until(() => app.calls.slowAborted > 0)
  t.equal(app.calls.slowAborted, 1, 'the handler saw its signal fire')
})

t.test('both eras against one app: the SDK v1 client in a session, the SDK v2 client under 2026-07-28', async (t) => {
  const app = await modernApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`)
  const v1 = new ClientV1({ name: 'v1', version: '1' }, { capabilities: { elicitation: {} } })
  v1.setRequestHandler((await import('@modelcontextprotocol/sdk/types.js')).ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'one' } }))
  await v1.connect(new TransportV1(url))
  const v2 = new ClientV2({ name: 'v2', version: '2' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } })
  v2.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'two' } }))
  const listed: string[] = []
  v2.setNotificationHandler('notifications/tools/list_changed', () => { listed.push('tools') })
  await v2.connect(new TransportV2(url))
  t.equal(v2.getProtocolEra(), 'modern', 'auto mode finds the 2026 side')
  t.type(v1.transport?.sessionId, 'string')
  t.same((await v1.callTool({ name: 'ask_name', arguments: {} })).content, [{ type: 'text', text: 'hi one (2025-11-25, v1)' }])
  t.same((await v2.callTool({ name: 'ask_name', arguments: {} })).content, [{ type: 'text', text: 'hi two (2026-07-28, v2)' }])
  t.equal((await v1.listTools()).tools.length, (await v2.listTools()).tools.length, 'the same definitions in both eras')
  const progress: number[] = []
  await v2.callTool({ name: 'progress', arguments: {} }, { onprogress: (p) => { progress.push(p.progress) } })
  t.same(progress, [0, 50, 100])
  t.same((await v2.callTool({ name: 'regional', arguments: { region: 'eu', shard: 3 } })).content, [{ type: 'text', text: 'eu/3' }], 'the v2 client mirrors x-mcp-header arguments')
  const sub = await v2.listen({ toolsListChanged: true })
  await app.mcp.listChanged('tools')
  await until(() => listed.length > 0)
  t.same(listed, ['tools'], 'a list change reaches the 2026 listener')
  await sub.close()
  await v1.close()
  await v2.close()
})

t.test('the 2026 side rejects bodies with a JSON-RPC error, and batches that mix in a 2026 request', async (t) => {
  const app = await modernApp(t)
  const batch = await post(app, { body: [req(1, 'tools/list').body, req(2, 'tools/list').body], headers: req(0, 'tools/list').headers })
  t.match([batch.status, batch.json?.error?.code], [400, -32600])
})

t.test('subscriptions/listen is bounded per instance: over modern.maxSubscriptions → 503 with Retry-After', async (t) => {
  const app = await modernApp(t, { modern: { maxSubscriptions: 1 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const r = req(1, 'subscriptions/listen', { notifications: { toolsListChanged: true } })
  const ac = new AbortController()
  const first = await fetch(url, { method: 'POST', headers: r.headers, body: JSON.stringify(r.body), signal: ac.signal })
  t.equal(first.status, 200)
  const second = await fetch(url, { method: 'POST', headers: r.headers, body: JSON.stringify({ ...r.body, id: 2 }) })
  t.equal(second.status, 503)
  t.ok(second.headers.get('retry-after'))
  t.match(await second.json(), { id: 2, error: { message: /subscription limit/ } })
  ac.abort()
})
