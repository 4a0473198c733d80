import { request as httpRequest } from 'node:http'
import t from 'tap'
import { ACC, buildApp, initBody, listen, openSession } from './helpers/http.js'
import { testAuth } from './helpers/auth-stub.js'

const ping = (id: number): Record<string, unknown> => ({ jsonrpc: '2.0', id, method: 'ping' })

async function served (t: { teardown: (fn: () => unknown) => void }, opts = {}): Promise<{ url: string }> {
  const app = await buildApp(opts)
  t.teardown(() => app.close())
  return { url: await listen(app) }
}

t.test('DELETE with Content-Type: application/json and no body ends the session (no body is parsed)', async (t) => {
  const { url } = await served(t)
  const { sid, post } = await openSession(url)
  const del = await fetch(url, { method: 'DELETE', headers: { 'content-type': 'application/json', 'mcp-session-id': sid } })
  t.equal(del.status, 204)
  t.equal((await post(ping(2))).status, 404, 'the session is gone')
  const again = await openSession(url)
  const withBody = await fetch(url, { method: 'DELETE', headers: { 'content-type': 'text/plain', 'mcp-session-id': again.sid }, body: 'ignored {' })
  t.equal(withBody.status, 204, 'a body of any type is ignored, never parsed')
})

t.test('maxBatchSize: a batch over the limit answers 400 with -32600 (default 100)', async (t) => {
  const { url } = await served(t, { maxBatchSize: 3 })
  const { post } = await openSession(url, '2025-03-26')
  const ok = await post([ping(1), ping(2), ping(3)])
  t.equal(ok.status, 200)
  t.equal((await ok.json() as unknown[]).length, 3)
  const over = await post([ping(1), ping(2), ping(3), ping(4)])
  t.equal(over.status, 400)
  t.match(await over.json(), { jsonrpc: '2.0', error: { code: -32600, message: /exceeds the limit of 3/ } })

  const { url: url2 } = await served(t)
  const s2 = await openSession(url2, '2025-03-26')
  const big = await s2.post(Array.from({ length: 101 }, (_, i) => ping(i)))
  t.equal(big.status, 400, 'default 100')
  t.equal((await s2.post(Array.from({ length: 100 }, (_, i) => ping(i)))).status, 200)
})

t.test('maxJsonDepth: nesting is refused with 400 -32700 before the body is parsed (default 64)', async (t) => {
  const { url } = await served(t, { maxJsonDepth: 8 })
  const { post } = await openSession(url)
  const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`
  const res = await fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json' }, body: deep(9) })
  t.equal(res.status, 400)
  t.match(await res.json(), { error: { code: -32700, message: /deeper than 8/ } })
  const strings = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: '[[[[[[[[[[[[{{{{{{{\\"' } } })
  t.equal(strings.status, 200, 'brackets inside strings do not count')

  const { url: url2 } = await served(t)
  const r65 = await fetch(url2, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json' }, body: `{"a":${deep(64)}}` })
  t.equal(r65.status, 400, 'default 64')
  t.match(await r65.json(), { error: { code: -32700 } })
  const r64 = await fetch(url2, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json' }, body: deep(64) })
  t.match(await r64.json(), { error: { code: -32600 } }, '64 levels parse (and are then no JSON-RPC message)')
})

async function rawRequest (url: string, headers: Array<[string, string]>, body: string): Promise<{ status: number, body: string }> {
  const u = new URL(url)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', setHost: false, headers: headers.flat() as unknown as Record<string, string> }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('two Host headers are refused with 400', async (t) => {
  const { url } = await served(t)
  const host = new URL(url).host
  const body = JSON.stringify(initBody())
  const base: Array<[string, string]> = [['Accept', ACC], ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))]]
  const one = await rawRequest(url, [['Host', host], ...base], body)
  t.equal(one.status, 200)
  const two = await rawRequest(url, [['Host', host], ['Host', 'evil.example'], ...base], body)
  t.equal(two.status, 400)
  t.match(JSON.parse(two.body), { error: { message: /more than one Host/ } })
})

t.test('initialize with a session id answers 400 with -32600 (as the README error table says)', async (t) => {
  const { url } = await served(t)
  const { sid } = await openSession(url)
  const res = await fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid }, body: JSON.stringify(initBody()) })
  t.equal(res.status, 400)
  t.match(await res.json(), { error: { code: -32600 } })
})

t.test('the RFC 9728 metadata route gets the same Host check', async (t) => {
  const app = await buildApp({ auth: testAuth() })
  t.teardown(() => app.close())
  const ok = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { host: '127.0.0.1:3000' } })
  t.equal(ok.statusCode, 200)
  const bad = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { host: 'evil.example' } })
  t.equal(bad.statusCode, 403)
})

t.test('errorCodes lists the plugin errors by code', async (t) => {
  const { errorCodes } = await import('../src/index.js')
  const err = new errorCodes.FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS(3)
  t.equal(err.code, 'FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS')
  t.equal(err.statusCode, 429)
  t.ok(err instanceof errorCodes.FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS)
  for (const [code, E] of Object.entries(errorCodes)) t.equal(new E('x', 'y').code, code)
})
