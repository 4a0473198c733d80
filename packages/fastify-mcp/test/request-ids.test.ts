import t, { type Test } from 'tap'
import { request } from 'node:http'
import { ACC, buildApp, listen, openSession, PV } from './helpers/http.js'
import { until } from './helpers/wait.js'

// Responses are routed by request id: a second request with the id of one still running in the
// session used to take over its answer, and one of the two never got a response.

async function setup (t: Test): Promise<{ url: string, held: () => number, release: () => void }> {
  const app = await buildApp()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let started = 0
  app.mcp.tool({ name: 'hold', description: 'Answers once the test releases it', handler: async () => { started++; await gate; return { content: [{ type: 'text', text: 'held' }] } } })
  t.teardown(() => app.close())
  return { url: await listen(app), held: () => started, release }
}

const call = (id: unknown, name: string, args: Record<string, unknown> = {}): Record<string, unknown> => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })

t.test('a request reusing the id of one in flight is refused at once; the first one still gets its answer', async (t) => {
  const { url, held, release } = await setup(t)
  const { post } = await openSession(url)
  const first = post(call(7, 'hold'))
  t.ok(await until(() => held() === 1), 'the first call runs')
  const second = await post(call(7, 'echo', { text: 'x' }))
  t.equal(second.status, 400)
  t.match(await second.json(), { jsonrpc: '2.0', id: null, error: { code: -32600, message: /request id 7 is already in use in this session/ } }, 'id null: the error cannot be taken for the answer of the running request')
  release()
  const answer = await first
  t.equal(answer.status, 200)
  t.match(await answer.json(), { id: 7, result: { content: [{ type: 'text', text: 'held' }] } }, 'the running request is answered')
  const reused = await post(call(7, 'echo', { text: 'again' }))
  t.match(await reused.json(), { id: 7, result: { content: [{ text: 'again' }] } }, 'once answered, the id may be used again')
  const other = await openSession(url)
  const elsewhere = await other.post(call(7, 'echo', { text: 'other session' }))
  t.equal(elsewhere.status, 200, 'ids are per session')
  await elsewhere.text()
})

t.test('a string id and a number id with the same digits are different ids', async (t) => {
  const { url, held, release } = await setup(t)
  const { post } = await openSession(url)
  const first = post(call(8, 'hold'))
  t.ok(await until(() => held() === 1))
  const res = await post(call('8', 'echo', { text: 'x' }))
  t.equal(res.status, 200)
  t.match(await res.json(), { id: '8', result: {} })
  release()
  await (await first).text()
})

t.test('a batch (2025-03-26) with the same id twice is refused before anything runs', async (t) => {
  const { url, held } = await setup(t)
  const { post } = await openSession(url, '2025-03-26')
  const res = await post([call(1, 'hold'), call(1, 'echo', { text: 'x' })])
  t.equal(res.status, 400)
  t.match(await res.json(), { id: null, error: { code: -32600, message: /request id 1 is already in use/ } })
  t.equal(held(), 0, 'no handler ran')
  const ok = await post([call(1, 'echo', { text: 'a' }), call(2, 'echo', { text: 'b' })])
  t.equal(ok.status, 200)
  await ok.text()
})

t.test('repeated headers are combined, never read as their first value: a doubled Mcp-Session-Id finds no session, a doubled MCP-Protocol-Version is refused', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { sid } = await openSession(base)
  const ping = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' })
  // node:http sends an array value as separate header lines (fetch would join them into one).
  const send = async (headers: Record<string, string | string[]>): Promise<number> => await new Promise((resolve, reject) => {
    const req = request(base, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...headers } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end(ping)
  })
  t.equal(await send({ 'mcp-session-id': sid, 'mcp-protocol-version': PV }), 200, 'one of each: served')
  t.equal(await send({ 'mcp-session-id': [sid, sid], 'mcp-protocol-version': PV }), 404)
  t.equal(await send({ 'mcp-session-id': sid, 'mcp-protocol-version': [PV, PV] }), 400)
})
