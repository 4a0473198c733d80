import t from 'tap'
import { ACC, buildApp, initBody, listen, openSession } from './helpers/http.js'
import { bearer, testAuth } from './helpers/auth-stub.js'

async function served (t: { teardown: (fn: () => unknown) => void }, max: number): Promise<string> {
  const app = await buildApp({ auth: testAuth(), rateLimit: { max, timeWindow: 60_000 } })
  t.teardown(() => app.close())
  return await listen(app)
}

const statusOf = async (res: Promise<Response>): Promise<number> => { const r = await res; await r.arrayBuffer(); return r.status }

t.test('requests without a token, and with a bad signature, are rate-limited per address', async (t) => {
  const url = await served(t, 5)
  const post = (headers: Record<string, string>): Promise<Response> => fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...headers }, body: JSON.stringify(initBody()) })
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push(await statusOf(post({})))
  for (let i = 0; i < 4; i++) statuses.push(await statusOf(post({ authorization: 'Bearer forged' })))
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429, 429])
  t.equal(await statusOf(post(bearer('alice'))), 200, 'a verified principal has its own budget')
})

t.test('the limit is decided before the body is read: over the limit, a malformed body gets 429, not 400', async (t) => {
  const url = await served(t, 1)
  const send = (): Promise<Response> => fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...bearer('bob') }, body: '['.repeat(100_000) })
  t.equal(await statusOf(send()), 400)
  const second = await send()
  t.equal(second.status, 429)
  t.ok(second.headers.get('retry-after'))
  t.match(await second.json(), { error: { code: -32005 } })
})

t.test('every message of a batch counts', async (t) => {
  const url = await served(t, 10)
  const { post } = await openSession(url, '2025-03-26', {}, bearer('carol'))
  // initialize and notifications/initialized spent 2 of 10.
  const ping = (id: number): Record<string, unknown> => ({ jsonrpc: '2.0', id, method: 'ping' })
  const five = await post([ping(1), ping(2), ping(3), ping(4), ping(5)])
  t.equal(five.status, 200, '2 + 5 = 7 of 10')
  await five.arrayBuffer()
  const four = await post([ping(6), ping(7), ping(8), ping(9)])
  t.equal(four.status, 429, '7 + 4 = 11 > 10')
  t.match(await four.json(), { error: { code: -32005 } })
  t.equal(await statusOf(post([ping(10), ping(11)], { 'mcp-protocol-version': '2025-03-26' })), 429, 'the window stays spent')
})

t.test('with a rate limit, GET and DELETE without a valid token are still refused with 401 (and counted)', async (t) => {
  const url = await served(t, 3)
  const statuses: number[] = []
  for (const method of ['GET', 'DELETE', 'GET', 'DELETE']) {
    statuses.push(await statusOf(fetch(url, { method, headers: { accept: 'text/event-stream', 'mcp-session-id': 'x', authorization: 'Bearer forged' } })))
  }
  t.same(statuses, [401, 401, 401, 429])
})
