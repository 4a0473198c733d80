import t from 'tap'
import { randomUUID } from 'node:crypto'
import { ACC, PV, buildApp } from './helpers/http.js'

const gc = (globalThis as { gc?: () => void }).gc

async function heapAfterGc (): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

t.test('10,000 requests with random session ids allocate no session state and leave the heap where it was', { skip: gc === undefined ? 'run with --expose-gc' : false }, async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const send = async (): Promise<number> => {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': randomUUID(), 'mcp-protocol-version': PV },
      payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    })
    return res.statusCode
  }
  for (let i = 0; i < 1000; i++) await send()
  const before = await heapAfterGc()
  const statuses = new Set<number>()
  for (let i = 0; i < 10_000; i++) statuses.add(await send())
  const after = await heapAfterGc()
  t.same([...statuses], [404], 'every bogus id is a 404')
  t.equal(await app.mcp.sessions.count(), 0, 'no session was created')
  t.equal(app.mcp.sessions.liveCount(), 0, 'no live server was built')
  const growth = after - before
  t.ok(growth < 2 * 1024 * 1024, `heap growth ${Math.round(growth / 1024)} KiB stays under 2 MiB`)
})
