import t from 'tap'
import { ACC, PV, buildApp, initBody } from './helpers/http.js'
import { init, post, rpcError } from './helpers/inject.js'

// The HTTP surface: status codes for malformed input, batches, MCP-Protocol-Version, 202s, 405s.

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

t.test('other methods answer 405 with Allow', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'PUT', url: '/mcp', headers: { 'content-type': 'application/json' }, payload: '{}' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'GET, POST, DELETE')
})

t.test('the plugin adds nothing to routes outside its path', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.post('/other', async (request) => ({ body: request.body as unknown }))
  const res = await app.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'application/json', host: 'evil.example.com' }, payload: '{"a":1}' })
  t.equal(res.statusCode, 200)
  t.same(JSON.parse(res.body), { body: { a: 1 } })
})
