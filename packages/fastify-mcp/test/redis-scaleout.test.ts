import t from 'tap'
import { ACC, PV, initBody, messages, openSession, readSse } from './helpers/http.js'
import { PrivateRedis, freePort, instance, prefix, redisSkip, type Instance } from './helpers/redis.js'
import { until } from './helpers/wait.js'
import { META_KEYS, modernRequest } from './helpers/modern.js'

const skip = await redisSkip()

async function cluster (t: { teardown: (fn: () => unknown) => void }, n: number, opts = {}): Promise<Instance[]> {
  const p = prefix()
  const list: Instance[] = []
  for (let i = 0; i < n; i++) {
    const inst = await instance(p, opts)
    inst.app.mcp.tool({
      name: 'ask',
      description: 'Asks the client for a name',
      handler: async (_args, ctx) => {
        const r = await ctx.elicit({ message: 'name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } })
        return { content: [{ type: 'text', text: `hello ${String(r.content?.name)}` }] }
      }
    })
    t.teardown(() => inst.app.close())
    list.push(inst)
  }
  return list
}

const call = (id: number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>): Record<string, unknown> =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) } })

function poster (url: string, sid: string) {
  return async (body: unknown, extra: Record<string, string> = {}): Promise<Response> => await fetch(url, {
    method: 'POST',
    headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': PV, ...extra },
    body: JSON.stringify(body)
  })
}

t.test('any instance serves any session', { skip }, async (t) => {
  const [a, b, c] = await cluster(t, 3) as [Instance, Instance, Instance]
  const { sid } = await openSession(a.url)
  const onB = poster(b.url, sid)
  const echo = await onB(call(2, 'echo', { text: 'from B' }))
  t.equal(echo.status, 200, 'a session created on A is served by B')
  t.same((await echo.json() as { result: { content: unknown } }).result.content, [{ type: 'text', text: 'from B' }])
  t.equal(b.app.mcp.sessions.liveCount(), 1, 'B rebuilt the session from its record')

  const sub = await onB({ jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri: 'test://r' } })
  t.equal(sub.status, 200)
  await sub.text()
  const ac = new AbortController()
  const get = await fetch(c.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV }, signal: ac.signal })
  t.equal(get.status, 200, 'the GET stream is held by C')
  const second = await fetch(a.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV } })
  t.equal(second.status, 409, 'a second GET stream on another instance is refused')
  await second.text()
  t.ok(await until(async () => (await a.app.mcp.sessions.get(sid))?.subscriptions.includes('test://r') === true), 'the subscription is stored')
  await a.app.mcp.resourceUpdated('test://r')
  // Once the update arrived, a marker is sent; reading stops at the marker, so a duplicate delivered with
  // the update would be counted.
  let marked = false
  const { events } = await readSse(get, (ev) => {
    const ms = messages(ev)
    if (!marked && ms.some((m) => m.method === 'notifications/resources/updated')) {
      marked = true
      void a.app.mcp.listChanged('tools')
    }
    return ms.some((m) => m.method === 'notifications/tools/list_changed')
  })
  ac.abort()
  const updates = messages(events).filter((m) => m.method === 'notifications/resources/updated')
  t.equal(updates.length, 1, 'the notification produced on A reached the GET stream on C, once')
})

t.test('a server-to-client request issued on A is answered through B', { skip }, async (t) => {
  const [a, b] = await cluster(t, 2) as [Instance, Instance]
  const { sid } = await openSession(a.url, PV, { elicitation: {} })
  const res = await poster(a.url, sid)(call(5, 'ask'))
  const reader = readSse(res, (ev) => messages(ev).some((m) => m.method === 'elicitation/create'))
  const { events } = await reader
  const request = messages(events).find((m) => m.method === 'elicitation/create') as { id: string }
  t.ok(request, 'A sent elicitation/create on its POST stream')
  const answer = await poster(b.url, sid)({ jsonrpc: '2.0', id: request.id, result: { action: 'accept', content: { name: 'Ada' } } })
  t.equal(answer.status, 202, 'B accepted the answer')
  const last = events.filter((e) => e.id !== undefined).pop()?.id as string
  const resumed = await fetch(b.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV, 'last-event-id': last } })
  const rest = messages((await readSse(resumed)).events)
  t.same(rest.find((m) => m.id === 5), { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: 'hello Ada' }] } }, 'the handler on A got the answer')
})

t.test('cancellation on B aborts the call running on A; DELETE on B is a 404 on A', { skip }, async (t) => {
  const [a, b] = await cluster(t, 2) as [Instance, Instance]
  const { sid } = await openSession(a.url)
  // The call's stream opens with its first message ('slow started'): by then the handler runs on A.
  const running = await poster(a.url, sid)(call(7, 'slow', { ms: 5000 }))
  const cancel = await poster(b.url, sid)({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'user' } })
  t.equal(cancel.status, 202)
  await until(() => a.app.calls.slowAborted > 0, 40, 50)
  t.equal(a.app.calls.slowAborted, 1, 'the handler on A saw the abort')
  running.body?.cancel().catch(() => {})
  const del = await fetch(b.url, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': PV } })
  t.equal(del.status, 204)
  const after = await poster(a.url, sid)({ jsonrpc: '2.0', id: 9, method: 'ping' })
  t.equal(after.status, 404, 'A sees the deletion')
})

t.test('idle expiry is seen by every instance, and reported once', { skip }, async (t) => {
  const instances = await cluster(t, 2, { sessions: { idleTimeoutMs: 400 } })
  const [a, b] = instances as [Instance, Instance]
  const closed: string[] = []
  for (const i of instances) i.app.mcp.events.on('session:closed', (e) => { closed.push(e.reason) })
  const { sid } = await openSession(a.url)
  t.ok(await until(() => closed.length > 0, 100, 50), 'the expiry is reported')
  t.equal((await poster(a.url, sid)({ jsonrpc: '2.0', id: 2, method: 'ping' })).status, 404)
  t.equal((await poster(b.url, sid)({ jsonrpc: '2.0', id: 2, method: 'ping' })).status, 404)
  t.same(closed, ['expired'], 'one expiry event across instances')
})

t.test('resume with Last-Event-ID on B after A is gone', { skip }, async (t) => {
  const [a, b] = await cluster(t, 2) as [Instance, Instance]
  const { sid } = await openSession(a.url)
  const first = await readSse(await poster(a.url, sid)(call(4, 'poll', {}, { progressToken: 'x' })))
  const primed = first.events[0]?.id as string
  // The tool answers after its connection closed: wait until its response is stored.
  t.ok(await until(async () => (await a.backend.eventStore.replayAfter(sid, primed))?.events.some((e) => e.final) === true))
  await a.app.close()
  const resumed = await fetch(b.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV, 'last-event-id': primed } })
  t.equal(resumed.status, 200)
  const msgs = messages((await readSse(resumed)).events)
  t.same(msgs.map((m) => m.method ?? `response:${String(m.id)}`), ['notifications/progress', 'response:4'], 'exactly the missed events, in order')
})

t.test('the principal binding holds across instances', { skip }, async (t) => {
  const { SignJWT } = await import('jose')
  const secret = 's'.repeat(40)
  const auth = { issuer: 'https://i.test', audience: 'http://127.0.0.1/mcp', hs256Secret: secret, resourceMetadata: { authorizationServers: ['https://i.test'] } }
  const [a, b] = await cluster(t, 2, { auth, allowedHosts: ['127.0.0.1'] }) as [Instance, Instance]
  const token = async (sub: string): Promise<string> => await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://i.test').setAudience('http://127.0.0.1/mcp').setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  const alice = await token('alice')
  const res = await fetch(a.url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', authorization: `Bearer ${alice}` }, body: JSON.stringify(initBody()) })
  const sid = res.headers.get('mcp-session-id') as string
  await res.text()
  const post = poster(b.url, sid)
  t.equal((await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, { authorization: `Bearer ${await token('mallory')}` })).status, 404, 'another principal on B')
  t.equal((await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, { authorization: `Bearer ${alice}` })).status, 200, 'the owner on B')
})

t.test('Redis down: fast 503 with a JSON-RPC error, readiness false, recovery with no stored event lost', { skip: skip !== false ? skip : (PrivateRedis.available() ? false : 'no redis-server binary to run a private Redis') }, async (t) => {
  const redis = new PrivateRedis(await freePort())
  await redis.start()
  t.teardown(() => redis.stop())
  const { instance: make } = await import('./helpers/redis.js')
  const p = prefix()
  const a = await make(p, {}, redis.url)
  t.teardown(() => a.app.close())
  const { sid } = await openSession(a.url)
  const polled = await readSse(await poster(a.url, sid)(call(4, 'poll', {}, { progressToken: 'r' })))
  const primedId = polled.events[0]?.id as string
  t.ok(await until(async () => (await a.backend.eventStore.replayAfter(sid, primedId))?.events.some((e) => e.final) === true))
  await redis.stop()
  // A hot session is trusted for up to a second without asking Redis; past that, Redis is needed.
  let down = await poster(a.url, sid)({ jsonrpc: '2.0', id: 5, method: 'ping' })
  await until(async () => {
    if (down.status !== 200) return true
    await down.arrayBuffer()
    down = await poster(a.url, sid)({ jsonrpc: '2.0', id: 5, method: 'ping' })
    return false
  }, 40, 50)
  t.equal(down.status, 503, 'a request that needs Redis fails with 503')
  t.match(await down.json(), { jsonrpc: '2.0', error: { message: /unavailable/ } })
  t.equal(await a.backend.ping(), false)
  await redis.start()
  let status = 0
  await until(async () => {
    status = (await poster(a.url, sid)({ jsonrpc: '2.0', id: 6, method: 'ping' })).status
    return status === 200
  }, 50, 100)
  t.equal(status, 200, 'service resumes by itself')
  t.equal(await a.backend.ping(), true)
  const resumed = await fetch(a.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV, 'last-event-id': polled.events[0]?.id as string } })
  const msgs = messages((await readSse(resumed)).events)
  t.same(msgs.map((m) => m.method ?? `response:${String(m.id)}`), ['notifications/progress', 'response:4'], 'no stored event was lost')
})

t.test('2026-07-28 on three instances: an input round continues on another instance; a listener on C hears a change made on A, once', { skip }, async (t) => {
  const secret = 'a shared secret of at least thirty-two bytes'
  const [a, b, c] = await cluster(t, 3, { modern: { requestStateSecret: secret } }) as [Instance, Instance, Instance]
  const modern = async (url: string, id: number, method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<Response> => {
    const r = modernRequest(id, method, params, { [META_KEYS.clientCapabilities]: { elicitation: {} } })
    return await fetch(url, { method: 'POST', signal, headers: r.headers, body: JSON.stringify(r.body) })
  }
  const first = await (await modern(a.url, 1, 'tools/call', { name: 'ask', arguments: {} })).json() as { result: { resultType: string, requestState: string, inputRequests: Record<string, unknown> } }
  t.equal(first.result.resultType, 'input_required', 'A asks for input')
  const key = Object.keys(first.result.inputRequests)[0] as string
  const retry = { name: 'ask', arguments: {}, requestState: first.result.requestState, inputResponses: { [key]: { action: 'accept', content: { name: 'Ada' } } } }
  const done = await (await modern(b.url, 2, 'tools/call', retry)).json() as { result: { content: unknown } }
  t.same(done.result.content, [{ type: 'text', text: 'hello Ada' }], 'B completes the call A started (same secret)')

  const ac = new AbortController()
  const listen = await modern(c.url, 3, 'subscriptions/listen', { notifications: { toolsListChanged: true, resourceSubscriptions: ['test://r'] } }, ac.signal)
  const reading = readSse(listen, (ev) => messages(ev).some((m) => m.method === 'notifications/resources/updated'))
  // A's publish is answered by Redis before B publishes: the bus delivers them to C in that order.
  await a.app.mcp.listChanged('tools')
  await b.app.mcp.resourceUpdated('test://r') // a marker: whatever A caused arrived before it
  const { events } = await reading
  ac.abort()
  const got = messages(events).map((m) => m.method)
  t.same(got, ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed', 'notifications/resources/updated'], 'acknowledged, then the change from A once, then the update from B')
})
