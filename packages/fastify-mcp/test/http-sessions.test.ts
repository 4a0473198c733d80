import t from 'tap'
import { PV, buildApp, initBody } from './helpers/http.js'
import { init, post, rpcError } from './helpers/inject.js'
import { until } from './helpers/wait.js'

// Sessions over HTTP: initialize, ids, lookup, DELETE, the cap, idle expiry.

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
