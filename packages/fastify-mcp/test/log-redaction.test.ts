import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import fastifyMcp from '../src/index.js'
import { ACC } from './helpers/http.js'
import { testAuth } from './helpers/auth-stub.js'

t.test('a token in the query string never reaches the log (URL redacted whatever the parameter)', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(fastifyMcp, { serverInfo: { name: 't', version: '0' }, auth: testAuth() })
  app.get('/other', async (request) => ({ url: request.url }))
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  for (const param of ['access_token', 'token', 'id_token', 'refresh_token', 'api_key', 'ACCESS_TOKEN']) {
    const res = await fetch(`${base}/mcp?x=1&${param}=SECRET-${param}&y=2`, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json' }, body: '{}' })
    t.equal(res.status, 401, param)
    t.match(await res.json(), { error: { message: /only in the Authorization header|bearer token is required/ } })
  }
  const meta = await fetch(`${base}/.well-known/oauth-protected-resource?access_token=SECRET-meta`)
  t.equal(meta.status, 200)
  const other = await fetch(`${base}/other?code=keep`)
  t.same(await other.json(), { url: '/other?code=keep' }, 'the app\'s other routes keep their URLs')
  const log = lines.join('')
  t.match(log, /access_token=\[REDACTED\]/, 'the request is still logged')
  t.notMatch(log, /SECRET/, 'no token value in any log line')
})
