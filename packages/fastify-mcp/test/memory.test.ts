import t from 'tap'
import { randomUUID } from 'node:crypto'
import { ACC, PV, buildApp } from './helpers/http.js'

// The heap figure of this scenario is measured in bench/memory.mjs; the test checks the behaviour.
t.test('requests with random session ids create no session and build no live server', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const statuses = new Set<number>()
  for (let i = 0; i < 2000; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': randomUUID(), 'mcp-protocol-version': PV },
      payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    })
    statuses.add(res.statusCode)
  }
  t.same([...statuses], [404], 'every bogus id is a 404')
  t.equal(await app.mcp.sessions.count(), 0, 'no session was created')
  t.equal(app.mcp.sessions.liveCount(), 0, 'no live server was built')
})
