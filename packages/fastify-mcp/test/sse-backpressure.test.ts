import { request as httpRequest, type IncomingMessage } from 'node:http'
import t from 'tap'
import { PV, buildApp, listen, openSession, parseSse } from './helpers/http.js'
import { until } from './helpers/wait.js'

const N = 400
const CHUNK = 'x'.repeat(64 * 1024)

t.test('a client that does not read pauses the producer; nothing is lost once it reads', async (t) => {
  const app = await buildApp()
  let sent = 0
  let finished = false
  app.mcp.tool({
    name: 'flood',
    description: 'Sends N large progress notifications',
    handler: async (_args, ctx) => {
      for (let i = 1; i <= N; i++) {
        await ctx.progress(i, N, CHUNK)
        sent = i
      }
      finished = true
      return { content: [{ type: 'text', text: 'flooded' }] }
    }
  })
  t.teardown(() => app.close())
  const url = await listen(app)
  const { sid } = await openSession(url)
  const u = new URL(url)
  const body = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'flood', arguments: {}, _meta: { progressToken: 'p' } } })
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': PV } }, resolve)
    req.on('error', reject)
    req.end(body)
  })
  res.pause()
  t.equal(res.headers['content-type'], 'text/event-stream')
  // Wait (bounded) until the producer stops advancing: it waits for the client.
  let last = -1
  let still = 0
  const stalled = await until(() => {
    still = sent === last ? still + 1 : 0
    last = sent
    return still >= 5
  }, 200, 50)
  t.ok(stalled, 'the producer stopped')
  t.notOk(finished, `paused at ${sent} of ${N} while the client does not read`)
  t.ok(sent < N)
  let text = ''
  res.setEncoding('utf8')
  res.on('data', (c: string) => { text += c })
  await new Promise((resolve) => { res.on('end', resolve); res.resume() })
  const events = parseSse(text).filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as { method?: string, result?: unknown })
  t.equal(events.filter((e) => e.method === 'notifications/progress').length, N, 'every notification arrived')
  t.match(events.at(-1), { result: { content: [{ text: 'flooded' }] } })
  t.ok(finished)
})

t.test('a stream whose client does not read is dropped past sse.maxBufferedBytes (deliveries that cannot wait)', async (t) => {
  const app = await buildApp({ sse: { maxBufferedBytes: 64 * 1024 } })
  t.teardown(() => app.close())
  const url = await listen(app)
  const { sid } = await openSession(url)
  const u = new URL(url)
  const get = (): Promise<IncomingMessage> => new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV } }, resolve)
    req.on('error', reject)
    req.end()
  })
  const first = await get()
  t.equal(first.statusCode, 200)
  first.pause()
  const conflict = await get()
  t.equal(conflict.statusCode, 409, 'while the first stream is open, a second is refused')
  conflict.resume()
  let reopened = 0
  let rounds = 0
  // Broadcasts (list changes) never wait for one reader; once enough wait in its socket, the stream goes.
  const dropped = await until(async () => {
    rounds++
    for (let i = 0; i < 2000; i++) await app.mcp.listChanged('tools')
    const again = await get()
    reopened = again.statusCode ?? 0
    again.destroy()
    return reopened === 200
  }, 60, 0)
  t.ok(dropped, `the slow stream was dropped after ${rounds * 2000} broadcasts: a new GET stream may open`)
  first.destroy()
})
