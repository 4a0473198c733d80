import t from 'tap'

// Option validation at registration.

t.test('options are validated at registration', async (t) => {
  const Fastify = (await import('fastify')).default
  const fastifyMcp = (await import('../src/index.js')).default
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /serverInfo/],
    [{ serverInfo: { name: 'x', version: '1' }, path: 'mcp' }, /path/],
    [{ serverInfo: { name: 'x', version: '1' }, sessions: { idleTimeoutMs: -1 } }, /idleTimeoutMs/],
    [{ serverInfo: { name: 'x', version: '1' }, allowedOrigins: ['*'] }, /allowedOrigins/],
    [{ serverInfo: { name: 'x', version: '1' }, toolsList: 'some' }, /toolsList/]
  ]
  for (const [opts, re] of cases) {
    const app = Fastify()
    app.register(fastifyMcp, opts as never)
    await t.rejects(async () => { await app.ready() }, re)
    await app.close()
  }
})
