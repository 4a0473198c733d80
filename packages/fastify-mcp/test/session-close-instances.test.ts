import t from 'tap'
import { ACC, PV, initBody } from './helpers/http.js'
import { instance, prefix, redisSkip, type Instance } from './helpers/redis.js'
import { bearer, testAuth } from './helpers/auth-stub.js'

// Regression (issue 11): a session deleted on one instance stayed alive on the others for up to a
// second (their live caches trusted the store that long and nothing waited for the bus).
const skip = await redisSkip()

async function cluster (t: { teardown: (fn: () => unknown) => void }, n: number): Promise<Instance[]> {
  const p = prefix()
  const list: Instance[] = []
  for (let i = 0; i < n; i++) {
    const inst = await instance(p, { auth: testAuth() })
    t.teardown(() => inst.app.close())
    list.push(inst)
  }
  return list
}

async function open (url: string, who: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...bearer(who) }, body: JSON.stringify(initBody()) })
  if (res.status !== 200) throw new Error(await res.text())
  await res.text()
  return res.headers.get('mcp-session-id') as string
}

async function send (url: string, sid: string, who: string, method = 'POST'): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': PV, ...bearer(who) },
    body: method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }) : undefined
  })
  await res.arrayBuffer()
  return res.status
}

t.test('DELETE on one instance: the very next request on every other instance gets 404', { skip }, async (t) => {
  const [a, b, c] = await cluster(t, 3) as [Instance, Instance, Instance]
  for (let round = 0; round < 5; round++) {
    const sid = await open(a.url, 'alice')
    // Every instance has the session live and freshly confirmed in its cache.
    t.same([await send(a.url, sid, 'alice'), await send(b.url, sid, 'alice'), await send(c.url, sid, 'alice')], [200, 200, 200])
    t.equal(await send(b.url, sid, 'alice', 'DELETE'), 204)
    t.same([await send(a.url, sid, 'alice'), await send(c.url, sid, 'alice'), await send(b.url, sid, 'alice')], [404, 404, 404], `round ${round}: gone everywhere at once`)
  }
})

t.test('an operator kill (app.mcp.sessions.close) takes effect on every instance before it resolves', { skip }, async (t) => {
  const [a, b, c] = await cluster(t, 3) as [Instance, Instance, Instance]
  const sid = await open(a.url, 'alice')
  t.same([await send(b.url, sid, 'alice'), await send(c.url, sid, 'alice')], [200, 200])
  t.equal(await c.app.mcp.sessions.close(sid), true)
  t.same([await send(a.url, sid, 'alice'), await send(b.url, sid, 'alice')], [404, 404])
})

t.test('another principal: DELETE and requests answer 404 and never end the session', { skip }, async (t) => {
  const [a, b] = await cluster(t, 2) as [Instance, Instance]
  const sid = await open(a.url, 'alice')
  t.equal(await send(b.url, sid, 'alice'), 200)
  t.equal(await send(b.url, sid, 'mallory', 'DELETE'), 404)
  t.equal(await send(a.url, sid, 'mallory'), 404)
  t.same([await send(a.url, sid, 'alice'), await send(b.url, sid, 'alice')], [200, 200], 'the owner still uses it on every instance')
})
