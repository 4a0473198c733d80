import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import * as http from 'node:http'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ACC, PV, messages, openSession, readSse } from './helpers/http.js'
import { REDIS_URL, prefix, redisSkip } from './helpers/redis.js'

const skip = await redisSkip()
const FIXTURE = fileURLToPath(new URL('./fixtures/instance.mjs', import.meta.url))

async function spawnInstance (t: { teardown: (fn: () => unknown) => void }, p: string): Promise<{ url: string, proc: ChildProcess }> {
  const proc = spawn(process.execPath, [FIXTURE], { env: { ...process.env, REDIS_URL, PREFIX: p }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { proc.kill('SIGKILL') })
  let out = ''
  for await (const chunk of proc.stdout as NodeJS.ReadableStream) {
    out += String(chunk)
    const m = /PORT (\d+)/.exec(out)
    if (m !== null) return { url: `http://127.0.0.1:${m[1]}/mcp`, proc }
  }
  throw new Error('instance did not start')
}

t.test('separate processes: initialize on P1, call on P2; P1 killed mid-call, its stored events resumed on P2', { skip }, async (t) => {
  const p = prefix()
  const p1 = await spawnInstance(t, p)
  const p2 = await spawnInstance(t, p)
  const { sid } = await openSession(p1.url)
  const headers = { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': PV }
  const echo = await fetch(p2.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } }) })
  const text = ((await echo.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]?.text
  t.equal(text, `hi from ${p2.proc.pid}`, 'P2 served the session P1 created')

  const res = await fetch(p1.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'long', arguments: {}, _meta: { progressToken: 'k' } } }) })
  const seen = await readSse(res, (ev) => messages(ev).length >= 2)
  p1.proc.kill('SIGKILL')
  const primed = seen.events[0]?.id as string
  const ac = new AbortController()
  const resumed = await fetch(p2.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PV, 'last-event-id': primed }, signal: ac.signal })
  t.equal(resumed.status, 200)
  const replay = await readSse(resumed, (ev) => messages(ev).length >= 2)
  ac.abort()
  t.same(messages(replay.events).map((m) => (m.params as { progress: number }).progress), [1, 2], 'every stored event survived the kill, in order')
})

t.test('the SDK v1 client completes a session whose requests alternate between two instances', { skip }, async (t) => {
  const p = prefix()
  const targets = [await spawnInstance(t, p), await spawnInstance(t, p)].map((i) => new URL(i.url))
  let next = 0
  const served: number[] = []
  const proxy = http.createServer((req, res) => {
    const i = next++ % 2
    served.push(i)
    const target = targets[i] as URL
    const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${target.port}` } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => { res.destroy() })
    req.pipe(upstream)
    res.on('close', () => { upstream.destroy() })
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { proxy.closeAllConnections(); proxy.close() })
  const url = new URL(`http://127.0.0.1:${(proxy.address() as { port: number }).port}/mcp`)
  const client = new Client({ name: 'rr', version: '1' })
  const transport = new StreamableHTTPClientTransport(url)
  await client.connect(transport)
  t.equal((await client.listTools()).tools.length, 3)
  const progress: number[] = []
  const r = await client.callTool({ name: 'progress', arguments: {} }, undefined, { onprogress: (x) => { progress.push(x.progress) } })
  t.same(r.content, [{ type: 'text', text: 'done' }])
  t.same(progress, [1, 2, 3])
  const echo1 = await client.callTool({ name: 'echo', arguments: { text: 'a' } })
  const echo2 = await client.callTool({ name: 'echo', arguments: { text: 'b' } })
  const pids = [echo1, echo2].map((e) => (e.content as Array<{ text: string }>)[0]?.text.split(' from ')[1])
  t.not(pids[0], pids[1], 'consecutive calls were served by different processes')
  await transport.terminateSession()
  await client.close()
  t.ok(served.includes(0) && served.includes(1), 'both instances served requests')
})
