import t, { type Test } from 'tap'
import { ACC, buildApp, initBody, listen } from './helpers/http.js'
import { instance, prefix, redisSkip } from './helpers/redis.js'
import { bearer, testAuth } from './helpers/auth-stub.js'

const skip = await redisSkip()

async function open (url: string, who: string): Promise<Response> {
  return await fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...bearer(who) }, body: JSON.stringify(initBody()) })
}

async function checkCap (t: Test, url: string, cap: number): Promise<void> {
  const sids: string[] = []
  for (let i = 0; i < cap; i++) {
    const res = await open(url, 'alice')
    t.equal(res.status, 200)
    await res.text()
    sids.push(res.headers.get('mcp-session-id') as string)
  }
  const over = await open(url, 'alice')
  t.equal(over.status, 429, 'one principal cannot take more than its share')
  t.ok(Number(over.headers.get('retry-after')) > 0, 'Retry-After')
  t.match(await over.json(), { error: { code: -32005, message: /holds \d+ sessions/ } })
  const bob = await open(url, 'bob')
  t.equal(bob.status, 200, 'everyone else still gets sessions')
  await bob.text()
  const del = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sids[0] as string, ...bearer('alice') } })
  t.equal(del.status, 204)
  const again = await open(url, 'alice')
  t.equal(again.status, 200, 'closing one frees a place')
  await again.text()
}


t.test('sessions.maxPerPrincipal (memory store): over it, 429 with Retry-After', async (t) => {
  const app = await buildApp({ auth: testAuth(), sessions: { maxPerPrincipal: 3 } })
  t.teardown(() => app.close())
  await checkCap(t, await listen(app), 3)
})

t.test('sessions.maxPerPrincipal (Redis, two instances): counted across instances', { skip }, async (t) => {
  const p = prefix()
  const a = await instance(p, { auth: testAuth(), sessions: { maxPerPrincipal: 2 } })
  const b = await instance(p, { auth: testAuth(), sessions: { maxPerPrincipal: 2 } })
  t.teardown(() => a.app.close())
  t.teardown(() => b.app.close())
  t.equal((await open(a.url, 'alice')).status, 200)
  await checkCap(t, b.url, 1)
})

t.test('sessions.maxPerPrincipal defaults to 100', async (t) => {
  const app = await buildApp({ auth: testAuth() })
  t.teardown(() => app.close())
  const codes = new Set<number>()
  for (let i = 0; i < 101; i++) {
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json', host: '127.0.0.1', ...bearer('dave') }, payload: initBody() })
    if (i < 100) codes.add(res.statusCode)
    else t.equal(res.statusCode, 429, 'the 101st')
  }
  t.same([...codes], [200])
})
