import t from 'tap'
import { ACC, PV, buildApp, listen, messages, openSession, readSse } from './helpers/http.js'
import { until } from './helpers/wait.js'

const call = (id: number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>): Record<string, unknown> =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) } })

async function getStream (base: string, sid: string, extra: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return await fetch(base, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV, ...extra }, ...(signal === undefined ? {} : { signal }) })
}

t.test('a call that reports progress is answered over SSE: priming event, progress on its own stream, then the response, then EOF', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base)
  const res = await post(call(7, 'progress', {}, { progressToken: 'p1' }))
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/event-stream/)
  const { events, ended } = await readSse(res)
  t.ok(ended, 'the stream ends after the response')
  t.ok((events[0]?.id ?? '') !== '', 'priming event has an id')
  t.equal(events[0]?.data, '', 'priming event has empty data')
  t.type(events[0]?.retry, 'number')
  const msgs = messages(events)
  const progress = msgs.filter((m) => m.method === 'notifications/progress').map((m) => (m.params as { progress: number, progressToken: string }))
  t.same(progress.map((p) => p.progress), [0, 50, 100])
  t.ok(progress.every((p) => p.progressToken === 'p1'))
  const last = msgs[msgs.length - 1] as { id: number, result: { content: unknown[] } }
  t.equal(last.id, 7)
  t.same(last.result.content, [{ type: 'text', text: 'done' }])
  const ids = events.map((e) => e.id).filter((id) => id !== undefined)
  t.equal(new Set(ids).size, ids.length, 'event ids are unique')
})

t.test('a numeric progress token comes back as a number; no token, no progress', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base)
  const withToken = messages((await readSse(await post(call(1, 'progress', {}, { progressToken: 42 })))).events)
  t.ok(withToken.filter((m) => m.method === 'notifications/progress').every((m) => (m.params as { progressToken: unknown }).progressToken === 42))
  const res = await post(call(2, 'progress'))
  t.match(res.headers.get('content-type'), /application\/json/, 'nothing before the result: plain JSON')
  t.same((await res.json() as { result: { content: unknown } }).result.content, [{ type: 'text', text: 'done' }])
})

t.test('sessions negotiated before 2025-11-25 get no priming event', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base, '2025-06-18')
  const { events } = await readSse(await post(call(1, 'progress', {}, { progressToken: 1 })))
  t.ok(events.every((e) => e.data !== ''), 'no empty-data event')
})

t.test('GET stream: one per session (409), receives unrelated notifications, never responses', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid, post } = await openSession(base)
  const ac = new AbortController()
  const get = await getStream(base, sid, {}, ac.signal)
  t.equal(get.status, 200)
  t.match(get.headers.get('content-type'), /text\/event-stream/)
  const second = await getStream(base, sid)
  t.equal(second.status, 409)
  await second.text()
  const notAccept = await fetch(base, { headers: { accept: 'application/json', 'mcp-session-id': sid } })
  t.equal(notAccept.status, 406)
  await notAccept.text()
  const sub = await post({ jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri: 'test://r' } })
  t.same(await sub.json(), { jsonrpc: '2.0', id: 3, result: {} })
  const ping = await post({ jsonrpc: '2.0', id: 9, method: 'ping' })
  t.same(await ping.json(), { jsonrpc: '2.0', id: 9, result: {} })
  await app.mcp.resourceUpdated('test://r')
  await app.mcp.resourceUpdated('test://not-subscribed')
  await app.mcp.listChanged('tools')
  const { events } = await readSse(get, (ev) => messages(ev).length >= 2)
  ac.abort()
  const msgs = messages(events)
  t.same(msgs.map((m) => m.method), ['notifications/resources/updated', 'notifications/tools/list_changed'])
  t.same((msgs[0] as { params: unknown }).params, { uri: 'test://r' })
  t.ok(msgs.every((m) => !('result' in m) && !('error' in m)), 'no response on the GET stream')
  t.ok(events[0]?.id !== undefined && events[0].data === '', 'the GET stream starts with a priming event')
})

t.test('client disconnect does not cancel: the call completes and its response can be resumed with Last-Event-ID', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid, post } = await openSession(base)
  const ac = new AbortController()
  const res = await fetch(base, {
    method: 'POST',
    headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': PV },
    body: JSON.stringify(call(7, 'slow', { ms: 300 })),
    signal: ac.signal
  })
  const { events } = await readSse(res, (ev) => ev.length >= 2)
  const primingId = events[0]?.id as string
  t.ok(primingId, 'priming id')
  ac.abort()
  await until(() => app.calls.slow > 0)
  t.equal(app.calls.slow, 1, 'the call completed')
  t.equal(app.calls.slowAborted, 0, 'and was not aborted')
  const resumed = await getStream(base, sid, { 'last-event-id': primingId })
  t.equal(resumed.status, 200)
  const replay = await readSse(resumed)
  t.ok(replay.ended, 'the resumed stream ends after the response')
  const last = messages(replay.events).pop() as { id: number, result: { content: Array<{ text: string }> } }
  t.equal(last.id, 7)
  t.equal(last.result.content[0]?.text, 'slow done')
  const bad = await getStream(base, sid, { 'last-event-id': 'not an id' })
  t.equal(bad.status, 400)
  await bad.text()
  const unknown = await getStream(base, sid, { 'last-event-id': 'abcdef_99' })
  t.equal(unknown.status, 400)
  await unknown.text()
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' })
})

t.test('SSE polling: the server closes the connection mid-call (retry first), the client resumes and gets the rest', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid, post } = await openSession(base)
  const res = await post(call(5, 'poll', {}, { progressToken: 't' }))
  const first = await readSse(res)
  t.ok(first.ended, 'the server closed the connection')
  t.notOk(messages(first.events).some((m) => m.id === 5), 'no response yet')
  t.ok(first.events.some((e) => e.retry !== undefined), 'a retry hint was sent')
  // Resumed at once: what the tool sends later arrives live on the resumed stream.
  const lastId = first.events.filter((e) => e.id !== undefined).pop()?.id as string
  const resumed = await readSse(await getStream(base, sid, { 'last-event-id': lastId }))
  const msgs = messages(resumed.events)
  t.same(msgs.map((m) => m.method ?? `response:${String(m.id)}`), ['notifications/progress', 'response:5'])
})

t.test('resumption replays only the named stream', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid, post } = await openSession(base)
  const [a, b] = await Promise.all([post(call(1, 'poll', {}, { progressToken: 'A' })), post(call(2, 'poll', {}, { progressToken: 'B' }))])
  const ea = await readSse(a as Response)
  const eb = await readSse(b as Response)
  const resumedA = messages((await readSse(await getStream(base, sid, { 'last-event-id': ea.events[0]?.id as string }))).events)
  t.ok(resumedA.every((m) => m.id === 1 || (m.params as { progressToken?: string })?.progressToken === 'A'))
  t.ok(resumedA.some((m) => m.id === 1))
  const resumedB = messages((await readSse(await getStream(base, sid, { 'last-event-id': eb.events[0]?.id as string }))).events)
  t.ok(resumedB.every((m) => m.id === 2 || (m.params as { progressToken?: string })?.progressToken === 'B'))
})

t.test('notifications/cancelled aborts the running call and no response is sent for it', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base)
  const pending = post(call(7, 'slow', { ms: 5000 }))
  const res = await pending
  // The response started with the handler's first log: it runs.
  const reading = readSse(res)
  const cancel = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'x' } })
  t.equal(cancel.status, 202)
  await until(() => app.calls.slowAborted > 0)
  t.equal(app.calls.slowAborted, 1, 'the handler saw the abort')
  t.equal(app.calls.slow, 0)
  const stray = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 999 } })
  t.equal(stray.status, 202, 'unknown ids are ignored')
  const ping = await post({ jsonrpc: '2.0', id: 8, method: 'ping' })
  t.same(await ping.json(), { jsonrpc: '2.0', id: 8, result: {} })
  await app.close()
  const { events } = await reading
  t.notOk(messages(events).some((m) => m.id === 7 && 'result' in m), 'no result for the cancelled request')
})

t.test('three concurrent calls on one session each get exactly their own response', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base)
  const results = await Promise.all([1, 2, 3].map(async (id) => {
    const res = await post(call(id, 'slow', { ms: 100 }))
    const text = await res.text()
    return { id, text }
  }))
  for (const { id, text } of results) {
    const ids = [...text.matchAll(/"id":(\d+)/g)].map((m) => Number(m[1]))
    t.same(ids, [id], `stream ${id} carries only its own response`)
  }
})

t.test('a session with an open GET stream is not reaped by the idle timeout', async (t) => {
  const app = await buildApp({ sessions: { idleTimeoutMs: 300 } })
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid, post } = await openSession(base)
  const ac = new AbortController()
  const get = await getStream(base, sid, {}, ac.signal)
  t.equal(get.status, 200)
  // A control session without a stream: once it expired, the idle timeout has passed for both.
  const closed: string[] = []
  app.mcp.events.on('session:closed', (e) => { closed.push(e.id) })
  const control = await openSession(base)
  t.ok(await until(() => closed.includes(control.sid), 100, 30), 'the idle control session expired')
  const ping = await post({ jsonrpc: '2.0', id: 2, method: 'ping' })
  t.equal(ping.status, 200, 'still alive')
  ac.abort()
  await ping.text()
  t.ok(await until(() => closed.includes(sid), 100, 30), 'expires once its stream closed')
  const late = await post({ jsonrpc: '2.0', id: 3, method: 'ping' })
  t.equal(late.status, 404, 'expired once idle')
})

t.test('bodies are valid UTF-8 both ways', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base)
  const res = await post(call(1, 'echo', { text: 'Zürich — 東京 — 🚀' }))
  const bytes = new Uint8Array(await res.arrayBuffer())
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  t.match(text, /Zürich — 東京 — 🚀/)
})

t.test('regression: a server-to-client request rides the stream of the call that made it, not the GET stream', async (t) => {
  const app = await buildApp()
  app.mcp.tool({
    name: 'ask',
    description: 'Elicits',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ message: 'name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } })
      return { content: [{ type: 'text', text: `hello ${String(r.content?.name)}` }] }
    }
  })
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base, PV, { elicitation: {} })
  const res = await post(call(3, 'ask'))
  t.match(res.headers.get('content-type'), /text\/event-stream/)
  const reader = readSse(res, (ev) => messages(ev).some((m) => m.method === 'elicitation/create'))
  const { events } = await reader
  const request = messages(events).find((m) => m.method === 'elicitation/create') as { id: string }
  t.ok(request, 'elicitation/create arrived on the POST stream')
  const answered = await post({ jsonrpc: '2.0', id: request.id, result: { action: 'accept', content: { name: 'Lin' } } })
  t.equal(answered.status, 202)
})

t.test('graceful close: running calls still answer, bounded by shutdownGraceMs', async (t) => {
  const app = await buildApp({ shutdownGraceMs: 5000 })
  const base = await listen(app)
  const { post } = await openSession(base)
  // The response starts with the handler's first log: the call runs.
  const res = await post(call(1, 'slow', { ms: 400 }))
  const closing = app.close()
  const body = await res.text()
  await closing
  t.equal(res.status, 200)
  t.match(body, /slow done/, 'the call finished during shutdown')
  t.equal(app.calls.slow, 1)

  const quick = await buildApp({ shutdownGraceMs: 0 })
  const base2 = await listen(quick)
  const s2 = await openSession(base2)
  const r2 = await s2.post(call(2, 'slow', { ms: 3000 }))
  await quick.close()
  const rest = await r2.text()
  t.notMatch(rest, /slow done/, 'past the grace period the call does not answer')
  t.equal(quick.calls.slow, 0)
})
