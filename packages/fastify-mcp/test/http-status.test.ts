import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { ACC, PV, buildApp, initBody } from './helpers/http.js'
import { until } from './helpers/wait.js'

const JSON_CT = 'application/json'

async function init (app: FastifyInstance, version = PV): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': JSON_CT }, payload: initBody(version) })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.headers['mcp-session-id'] as string
}

function post (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': JSON_CT, ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
}

function rpcError (res: LightMyRequestResponse): { code: number, message: string } {
  const body = JSON.parse(res.body) as { jsonrpc: string, error: { code: number, message: string }, id?: unknown }
  return body.error
}

t.test('initialize answers 200 with a visible-ASCII session id and the negotiated version', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const res = await post(app, initBody('2025-06-18'))
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  t.match(res.headers['mcp-session-id'], /^[\x21-\x7E]{16,}$/)
  const body = JSON.parse(res.body)
  t.equal(body.id, 1)
  t.equal(body.result.protocolVersion, '2025-06-18')
  t.equal(body.result.serverInfo.name, 'test-server')
  t.type(body.result.capabilities.tools, 'object')
})

t.test('an unsupported version asked in initialize is answered with the latest', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  for (const v of ['1999-01-01', '2099-01-01']) {
    const res = await post(app, initBody(v))
    t.equal(res.statusCode, 200)
    t.equal(JSON.parse(res.body).result.protocolVersion, '2025-11-25')
  }
})

t.test('session ids are distinct and unpredictable', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const ids = new Set<string>()
  for (let i = 0; i < 200; i++) ids.add(await init(app))
  t.equal(ids.size, 200)
  t.ok([...ids].every((id) => Buffer.from(id, 'base64url').length >= 16), 'at least 128 bits each')
})

t.test('guards: Host and Origin (DNS rebinding)', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const badOrigin = await post(app, initBody(), { origin: 'http://evil.example' })
  t.equal(badOrigin.statusCode, 403)
  t.notOk('id' in JSON.parse(badOrigin.body), 'error body has no id')
  t.equal(rpcError(badOrigin).code, -32000)
  const badHost = await post(app, initBody(), { host: 'evil.example.com' })
  t.equal(badHost.statusCode, 403)
  t.equal((await post(app, initBody(), { origin: 'http://localhost:6274' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: '[::1]:3000' })).statusCode, 200)
  t.equal((await post(app, initBody(), { origin: 'null' })).statusCode, 403)
})

t.test('guards: allowlists replace the loopback defaults', async (t) => {
  const app = await buildApp({ allowedHosts: ['mcp.example.com'], allowedOrigins: ['https://app.example.com'] })
  t.teardown(() => app.close())
  t.equal((await post(app, initBody(), { host: 'mcp.example.com' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: 'localhost' })).statusCode, 403)
  t.equal((await post(app, initBody(), { host: 'mcp.example.com', origin: 'https://app.example.com' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: 'mcp.example.com', origin: 'https://other.example.com' })).statusCode, 403)
})

t.test('406, 415, 413, 400 on malformed input', async (t) => {
  const app = await buildApp({ bodyLimit: 1024 })
  t.teardown(() => app.close())
  const r406 = await post(app, initBody(), { accept: 'application/json' })
  t.equal(r406.statusCode, 406)
  const r415 = await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'text/plain' }, payload: JSON.stringify(initBody()) })
  t.equal(r415.statusCode, 415)
  t.equal(rpcError(r415).code, -32000)
  const r413 = await post(app, { ...initBody(), pad: 'x'.repeat(2048) })
  t.equal(r413.statusCode, 413)
  t.match(rpcError(r413).message, /1024/)
  const parse = await post(app, '{')
  t.equal(parse.statusCode, 400)
  t.equal(rpcError(parse).code, -32700)
  const nullId = await post(app, { jsonrpc: '2.0', id: null, method: 'ping' })
  t.equal(nullId.statusCode, 400)
  t.equal(rpcError(nullId).code, -32600)
  const badMethod = await post(app, { jsonrpc: '2.0', method: 5 })
  t.equal(badMethod.statusCode, 400)
  t.equal(rpcError(badMethod).code, -32600)
  const empty = await post(app, [])
  t.equal(empty.statusCode, 400)
  t.equal(rpcError(empty).code, -32600)
  t.notMatch(parse.body, /at .*\.js/, 'no stack trace')
})

t.test('sessions: 400 without id, 404 unknown, batches only at 2025-03-26, second initialize refused', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const sid = await init(app)
  const noSid = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-protocol-version': PV })
  t.equal(noSid.statusCode, 400)
  t.match(rpcError(noSid).message, /Mcp-Session-Id/)
  const unknown = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': 'nonexistent', 'mcp-protocol-version': PV })
  t.equal(unknown.statusCode, 404)
  t.equal(rpcError(unknown).code, -32001)
  const batch = await post(app, [{ jsonrpc: '2.0', id: 2, method: 'ping' }], { 'mcp-session-id': sid, 'mcp-protocol-version': PV })
  t.equal(batch.statusCode, 400)
  t.equal(rpcError(batch).code, -32600)
  const again = await post(app, initBody(), { 'mcp-session-id': sid })
  t.equal(again.statusCode, 400)
  const initBatch = await post(app, [initBody()])
  t.equal(initBatch.statusCode, 400)
  for (const method of ['GET', 'DELETE'] as const) {
    const r = await app.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream' } })
    t.equal(r.statusCode, 400, `${method} without a session id`)
    const r2 = await app.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream', 'mcp-session-id': 'nope' } })
    t.equal(r2.statusCode, 404, `${method} with an unknown session id`)
  }
})

t.test('2025-03-26 sessions accept batches', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const sid = await init(app, '2025-03-26')
  const res = await post(app, [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }], { 'mcp-session-id': sid })
  t.equal(res.statusCode, 200)
  const body = JSON.parse(res.body) as Array<{ id: number, result: Record<string, unknown> }>
  t.same(body.map((r) => r.id).sort(), [1, 2])
  t.ok(body.find((r) => r.id === 2)?.result.tools)
  const only = await post(app, [{ jsonrpc: '2.0', method: 'notifications/initialized' }], { 'mcp-session-id': sid })
  t.equal(only.statusCode, 202)
  t.equal(only.body, '')
})

t.test('MCP-Protocol-Version: unsupported or malformed 400, missing uses the negotiated version', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const sid = await init(app, '2025-03-26')
  for (const v of ['1999-01-01', 'banana']) {
    const r = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': sid, 'mcp-protocol-version': v })
    t.equal(r.statusCode, 400, v)
    t.match(rpcError(r).message, /Unsupported protocol version/)
    const g = await app.inject({ method: 'DELETE', url: '/mcp', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': v } })
    t.equal(g.statusCode, 400, `DELETE ${v}`)
  }
  const missing = await post(app, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid })
  t.equal(missing.statusCode, 200)
  const tools = JSON.parse(missing.body).result.tools as Array<Record<string, unknown>>
  t.ok(tools.every((tool) => !('outputSchema' in tool) && !('title' in tool)), '2025-03-26 fields only')
})

t.test('notifications and responses answer 202 with no body; requests get JSON-RPC results and errors', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const sid = await init(app)
  const h = { 'mcp-session-id': sid, 'mcp-protocol-version': PV }
  const n = await post(app, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)
  t.equal(n.statusCode, 202)
  t.equal(n.body, '')
  const r = await post(app, { jsonrpc: '2.0', id: 'srv-1', result: {} }, h)
  t.equal(r.statusCode, 202)
  const ping = await post(app, { jsonrpc: '2.0', id: '123', method: 'ping' }, h)
  t.same(JSON.parse(ping.body), { jsonrpc: '2.0', id: '123', result: {} })
  const unknown = await post(app, { jsonrpc: '2.0', id: 3, method: 'foo/bar' }, h)
  t.equal(unknown.statusCode, 200)
  t.equal(JSON.parse(unknown.body).error.code, -32601)
  const noTool = await post(app, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'no_such_tool' } }, h)
  t.equal(JSON.parse(noTool.body).error.code, -32602)
  t.match(JSON.parse(noTool.body).error.message, /Unknown tool/)
  const badArgs = await post(app, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { text: 5 } } }, h)
  const badResult = JSON.parse(badArgs.body).result
  t.equal(badResult.isError, true)
  t.match(badResult.content[0].text, /text/)
  const bogusCursor = await post(app, { jsonrpc: '2.0', id: 6, method: 'tools/list', params: { cursor: 'bogus' } }, h)
  t.equal(JSON.parse(bogusCursor.body).error.code, -32602)
  const echo = await post(app, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } }, h)
  t.same(JSON.parse(echo.body).result.content, [{ type: 'text', text: 'hi' }])
})

t.test('DELETE answers 204, then the session is gone (404)', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const sid = await init(app)
  const closed: string[] = []
  app.mcp.events.on('session:closed', (e) => { closed.push(`${e.id}:${e.reason}`) })
  const del = await app.inject({ method: 'DELETE', url: '/mcp', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': PV } })
  t.equal(del.statusCode, 204)
  t.same(closed, [`${sid}:deleted`])
  const after = await post(app, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': sid, 'mcp-protocol-version': PV })
  t.equal(after.statusCode, 404)
  const del2 = await app.inject({ method: 'DELETE', url: '/mcp', headers: { 'mcp-session-id': sid } })
  t.equal(del2.statusCode, 404)
  t.equal(await app.mcp.sessions.count(), 0)
})

t.test('other methods answer 405 with Allow', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'PUT', url: '/mcp', headers: { 'content-type': JSON_CT }, payload: '{}' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, POST, DELETE')
})

t.test('the session cap answers 503 with Retry-After', async (t) => {
  const app = await buildApp({ sessions: { maxSessions: 2 } })
  t.teardown(() => app.close())
  await init(app)
  await init(app)
  const res = await post(app, initBody())
  t.equal(res.statusCode, 503)
  t.ok(res.headers['retry-after'])
  t.equal(await app.mcp.sessions.count(), 2)
})

t.test('idle sessions expire (404 afterwards) and the event says why', async (t) => {
  const app = await buildApp({ sessions: { idleTimeoutMs: 300 } })
  t.teardown(() => app.close())
  await app.ready()
  const sid = await init(app)
  const closed: string[] = []
  app.mcp.events.on('session:closed', (e) => { closed.push(e.reason) })
  t.ok(await until(() => closed.length > 0, 100, 30), 'the expiry is reported')
  const res = await post(app, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': sid, 'mcp-protocol-version': PV })
  t.equal(res.statusCode, 404)
  t.same(closed, ['expired'])
})

t.test('request.mcpSession is null before initialize and the record after', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const seen: Array<string | null> = []
  app.addHook('onResponse', async (request) => { seen.push(request.mcpSession?.id ?? null) })
  const sid = await init(app)
  await post(app, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': sid, 'mcp-protocol-version': PV })
  await post(app, { jsonrpc: '2.0', id: 2, method: 'ping' })
  t.same(seen, [sid, sid, null])
  const list = await app.mcp.sessions.list()
  t.equal(list[0]?.id, sid)
  t.equal(list[0]?.clientInfo?.name, 't')
})

t.test('the plugin adds nothing to routes outside its path', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.post('/other', async (request) => ({ body: request.body as unknown }))
  const res = await app.inject({ method: 'POST', url: '/other', headers: { 'content-type': JSON_CT, host: 'evil.example.com' }, payload: '{"a":1}' })
  t.equal(res.statusCode, 200)
  t.same(JSON.parse(res.body), { body: { a: 1 } })
})

t.test('stateless mode: every POST stands alone; GET and DELETE 405', async (t) => {
  const app = await buildApp({ stateless: true })
  t.teardown(() => app.close())
  const initRes = await post(app, initBody())
  t.equal(initRes.statusCode, 200)
  t.notOk(initRes.headers['mcp-session-id'])
  const call = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } })
  t.equal(call.statusCode, 200)
  t.same(JSON.parse(call.body).result.content, [{ type: 'text', text: 'x' }])
  const progress = await post(app, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'progress', arguments: {}, _meta: { progressToken: 'p' } } })
  t.match(progress.headers['content-type'], /text\/event-stream/, 'progress streams the reply')
  const events = progress.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { params?: { progress: number }, result?: unknown })
  t.same(events.slice(0, 3).map((e) => e.params?.progress), [0, 50, 100])
  t.match(events[3], { id: 3, result: { content: [{ text: 'done' }] } })
  t.notOk(progress.body.includes('id: '), 'no SSE ids: a stateless stream is not resumable')
  const list = await post(app, { jsonrpc: '2.0', id: 4, method: 'tools/list' })
  t.ok(JSON.parse(list.body).result.tools.some((x: { name: string }) => x.name === 'echo'))
  const unknown = await post(app, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'nope' } })
  t.match(JSON.parse(unknown.body), { id: 5, error: { code: -32602 } })
  app.mcp.tool({ name: 'ask', description: 'Asks', handler: async (_a, ctx) => { await ctx.elicit({ message: 'x', requestedSchema: { type: 'object', properties: {} } }); return { content: [] } } })
  const ask = await post(app, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'ask', arguments: {} } })
  t.match(JSON.parse(ask.body).result, { isError: true, content: [{ text: /stateless/ }] }, 'no way back to the client: a tool error')
  const prompts = await post(app, { jsonrpc: '2.0', id: 7, method: 'resources/list' })
  t.match(JSON.parse(prompts.body), { id: 7, result: { resources: [{ uri: 'test://r' }] } }, 'other methods go through the SDK server')
  for (const method of ['GET', 'DELETE'] as const) {
    const r = await app.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream' } })
    t.equal(r.statusCode, 405)
    t.equal(r.headers.allow, 'POST')
  }
})

t.test('options are validated at registration', async (t) => {
  const Fastify = (await import('fastify')).default
  const fastifyMcp = (await import('../src/index.js')).default
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /serverInfo/],
    [{ serverInfo: { name: 'x', version: '1' }, path: 'mcp' }, /path/],
    [{ serverInfo: { name: 'x', version: '1' }, sessions: { idleTimeoutMs: -1 } }, /idleTimeoutMs/],
    [{ serverInfo: { name: 'x', version: '1' }, allowedOrigins: ['*'] }, /allowedOrigins/],
    [{ serverInfo: { name: 'x', version: '1' }, toolsList: 'some' }, /toolsList/]
  ]
  for (const [opts, re] of cases) {
    const app = Fastify()
    app.register(fastifyMcp, opts as never)
    await t.rejects(async () => { await app.ready() }, re)
    await app.close()
  }
})
