import t from 'tap'
import Fastify from 'fastify'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import fastifyMcp, { introspectionVerifier, requireScopes } from '../src/index.js'
import { AUDIENCE, INIT, authApp, headers, makeKeys, sign, type Keys } from './helpers/auth.js'
import { loopbackOnlyGuard } from '../src/http/guards.js'
import { isLoopbackHost } from '../src/protocol/index.js'

const ISSUER = 'https://issuer.test'
const rm = { authorizationServers: [ISSUER] }

async function setup (t: { teardown: (fn: () => unknown) => void }, extra = {}): Promise<{ app: Awaited<ReturnType<typeof authApp>>, key: Keys, token: (o?: Parameters<typeof sign>[2]) => Promise<string> }> {
  const key = await makeKeys('ES256', 'k')
  const app = await authApp({ issuer: ISSUER, audience: AUDIENCE, publicKeys: [key.jwk as Record<string, unknown>], resourceMetadata: rm }, extra)
  t.teardown(() => app.close())
  return { app, key, token: async (o = {}) => await sign(key, ISSUER, o) }
}

async function open (app: Awaited<ReturnType<typeof authApp>>, token: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(token), payload: INIT })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.headers['mcp-session-id'] as string
}

const call = (id: number, name: string): Record<string, unknown> => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } })

t.test('insufficient scope: 403 with the step-up challenge, a JSON-RPC body naming the tool, and the handler never runs', async (t) => {
  const { app, token } = await setup(t)
  const basic = await token({ scope: 'tools:basic' })
  const sid = await open(app, basic)
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(basic, { 'mcp-session-id': sid }), payload: call(7, 'admin_tool') })
  t.equal(res.statusCode, 403)
  const www = String(res.headers['www-authenticate'])
  t.match(www, /^Bearer /)
  t.match(www, /error="insufficient_scope"/)
  t.match(www, /scope="tools:admin"/)
  t.match(www, /resource_metadata="http:\/\/127\.0\.0\.1:9999\/\.well-known\/oauth-protected-resource\/mcp"/)
  t.match(JSON.parse(res.body), { jsonrpc: '2.0', id: 7, error: { code: -32003, message: /admin_tool/ } })
  t.equal(app.runs.admin, 0, 'the handler did not run')
  const again = await app.inject({ method: 'POST', url: '/mcp', headers: headers(basic, { 'mcp-session-id': sid }), payload: call(8, 'admin_tool') })
  t.equal(again.headers['www-authenticate'], res.headers['www-authenticate'], 'the same challenge every time')
  const admin = await token({ scope: 'tools:basic tools:admin' })
  const ok = await app.inject({ method: 'POST', url: '/mcp', headers: headers(admin, { 'mcp-session-id': sid }), payload: call(9, 'admin_tool') })
  t.equal(ok.statusCode, 200, 'a stepped-up token of the same principal keeps the session')
  t.equal(app.runs.admin, 1)
})

t.test('sessions are bound to the principal; every request is authenticated', async (t) => {
  const { app, token } = await setup(t)
  const alice = await token({ sub: 'alice', scope: 'tools:basic', clientId: 'c1' })
  const sid = await open(app, alice)
  const whoami = async (tk: string | null, id = 2): Promise<{ statusCode: number, body: string }> =>
    await app.inject({ method: 'POST', url: '/mcp', headers: headers(tk, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }), payload: call(id, 'whoami') })
  const bob = await whoami(await token({ sub: 'bob', scope: 'tools:basic', clientId: 'c1' }))
  t.equal(bob.statusCode, 404, 'another subject gets the same 404 as an unknown session')
  t.match(JSON.parse(bob.body), { error: { code: -32001, message: 'Session not found' } })
  const otherClient = await whoami(await token({ sub: 'alice', scope: 'tools:basic', clientId: 'c2' }))
  t.equal(otherClient.statusCode, 404, 'another client of the same user too')
  const otherIssuer = Fastify()
  t.teardown(() => otherIssuer.close())
  const none = await whoami(null)
  t.equal(none.statusCode, 401, 'a session id is not a credential')
  const refreshed = await whoami(await token({ sub: 'alice', scope: 'tools:basic extra', clientId: 'c1' }))
  t.equal(refreshed.statusCode, 200, 'a refreshed token of the same principal keeps the session')
  const me = JSON.parse(JSON.parse(refreshed.body).result.content[0].text)
  t.same(me, { sub: 'alice', scopes: ['tools:basic', 'extra'], clientId: 'c1' }, 'ctx.caller is the current token')
  for (const method of ['GET', 'DELETE'] as const) {
    const r = await app.inject({ method, url: '/mcp', headers: { host: '127.0.0.1:9999', accept: 'text/event-stream', 'mcp-session-id': sid } })
    t.equal(r.statusCode, 401, `${method} without a token`)
  }
})

t.test('tools/list: all tools with their scopes, or only the allowed ones', async (t) => {
  const all = await setup(t)
  const tk = await all.token({ scope: 'tools:basic' })
  const sid = await open(all.app, tk)
  const list = await all.app.inject({ method: 'POST', url: '/mcp', headers: headers(tk, { 'mcp-session-id': sid }), payload: { jsonrpc: '2.0', id: 2, method: 'tools/list' } })
  const tools = JSON.parse(list.body).result.tools as Array<{ name: string, _meta?: { requiredScopes?: string[] } }>
  t.same(tools.map((x) => x.name), ['open', 'admin_tool', 'whoami'])
  t.same(tools.find((x) => x.name === 'admin_tool')?._meta?.requiredScopes, ['tools:admin'])
  t.notOk(tools.find((x) => x.name === 'open')?._meta, 'no scopes, no _meta')
  const allowed = await setup(t, { toolsList: 'allowed' })
  const tk2 = await allowed.token({ scope: 'tools:basic' })
  const sid2 = await open(allowed.app, tk2)
  const list2 = await allowed.app.inject({ method: 'POST', url: '/mcp', headers: headers(tk2, { 'mcp-session-id': sid2 }), payload: { jsonrpc: '2.0', id: 2, method: 'tools/list' } })
  t.same((JSON.parse(list2.body).result.tools as Array<{ name: string }>).map((x) => x.name), ['open', 'whoami'])
})

t.test('RFC 9728 metadata at both well-known URLs, unauthenticated', async (t) => {
  const { app } = await setup(t)
  for (const url of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], /application\/json/)
    t.same(JSON.parse(res.body), { resource: AUDIENCE, authorization_servers: [ISSUER], scopes_supported: ['tools:admin', 'tools:basic'], bearer_methods_supported: ['header'] })
  }
})

t.test('rate limit per verified subject: 429 with Retry-After and a JSON-RPC body', async (t) => {
  const { app, token } = await setup(t, { rateLimit: { max: 3, timeWindow: 60_000 } })
  const alice = await token({ sub: 'alice' })
  const statuses: number[] = []
  let last
  for (let i = 0; i < 4; i++) {
    last = await app.inject({ method: 'POST', url: '/mcp', headers: headers(alice), payload: INIT })
    statuses.push(last.statusCode)
  }
  t.same(statuses, [200, 200, 200, 429])
  t.ok(last?.headers['retry-after'])
  t.match(JSON.parse(last?.body ?? '{}'), { jsonrpc: '2.0', error: { code: -32005, message: /Too Many Requests/ } })
  const bob = await app.inject({ method: 'POST', url: '/mcp', headers: headers(await token({ sub: 'bob' })), payload: INIT })
  t.equal(bob.statusCode, 200, 'another subject has its own budget')
})

t.test('CORS: preflight answered before auth, an explicit allowlist, headers exposed', async (t) => {
  const { app } = await setup(t, { cors: { origins: ['https://app.example'] }, allowedOrigins: ['https://app.example'] })
  const pre = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: { host: '127.0.0.1:9999', origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,mcp-session-id' } })
  t.equal(pre.statusCode, 204, 'preflight needs no token')
  t.equal(pre.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(pre.headers['access-control-allow-headers']), /Authorization/)
  t.match(String(pre.headers['access-control-allow-headers']), /MCP-Protocol-Version/)
  t.match(String(pre.headers['access-control-allow-headers']), /Mcp-Method, Mcp-Name/, '2026-07-28 routing headers')
  app.mcp.tool({ name: 'regional', description: 'Mirrors region', input: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } }, handler: () => ({ content: [] }) })
  const later = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: { host: '127.0.0.1:9999', origin: 'https://app.example', 'access-control-request-method': 'POST' } })
  t.match(String(later.headers['access-control-allow-headers']), /mcp-param-region/, 'a tool declared later adds its Mcp-Param-* header')
  const evil = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: { host: '127.0.0.1:9999', origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.notOk(evil.headers['access-control-allow-origin'], 'no allow header for other origins')
  const unauth = await app.inject({ method: 'POST', url: '/mcp', headers: { ...headers(null), origin: 'https://app.example' }, payload: INIT })
  t.equal(unauth.statusCode, 401)
  t.match(String(unauth.headers['access-control-expose-headers']), /WWW-Authenticate/)
  t.match(String(unauth.headers['access-control-expose-headers']), /Mcp-Session-Id/)
  const evilPost = await app.inject({ method: 'POST', url: '/mcp', headers: { ...headers(null), origin: 'https://evil.example' }, payload: INIT })
  t.equal(evilPost.statusCode, 403, 'the Origin guard refuses other origins outright')
})

t.test('requireScopes() on other routes of the app', async (t) => {
  const { app, token } = await setup(t)
  app.get('/admin', { preHandler: requireScopes('tools:admin') }, async (request) => ({ sub: request.mcpAuth?.subject }))
  t.equal((await app.inject({ method: 'GET', url: '/admin' })).statusCode, 401)
  const weak = await app.inject({ method: 'GET', url: '/admin', headers: { authorization: `Bearer ${await token({ scope: 'tools:basic' })}` } })
  t.equal(weak.statusCode, 403)
  t.match(String(weak.headers['www-authenticate']), /insufficient_scope/)
  const ok = await app.inject({ method: 'GET', url: '/admin', headers: { authorization: `Bearer ${await token({ scope: 'tools:admin' })}` } })
  t.same(JSON.parse(ok.body), { sub: 'alice' })
})

t.test('without auth the endpoint is served on loopback sockets only, and a wider listen address is reported at start-up', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => { lines.push(line) } }
  const app = Fastify({ logger: { level: 'error', stream } })
  await app.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' } })
  await app.listen({ port: 0, host: '0.0.0.0' })
  t.teardown(() => app.close())
  t.match(lines.join(''), /\/mcp has no authentication: requests arriving on 0\.0\.0\.0 other than over loopback are refused with 403/)
  const port = (app.server.address() as { port: number }).port
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }, body: JSON.stringify(init) })
  t.equal(res.status, 200, 'a connection over loopback is served')
  await res.text()
  // A request on another local address (tests use loopback only: the guard is given such a socket directly).
  const guard = loopbackOnlyGuard('/mcp')
  t.throws(() => { guard({ socket: { localAddress: '192.0.2.10' } } as never) }, { code: 'FST_MCP_UNAUTHENTICATED_ENDPOINT', statusCode: 403, message: /\/mcp has no authentication and is served only on loopback addresses, not on 192\.0\.2\.10/ })
  t.doesNotThrow(() => { guard({ socket: { localAddress: '::ffff:127.0.0.1' } } as never) })

  const allowedLines: string[] = []
  const allowed = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { allowedLines.push(line) } } } })
  await allowed.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' }, allowUnauthenticated: true })
  await allowed.listen({ port: 0, host: '0.0.0.0' })
  t.teardown(() => allowed.close())
  t.same(allowedLines, [], 'allowUnauthenticated: nothing to report')
})

t.test('loopback names: literal addresses only, never a DNS name that starts with 127.', async (t) => {
  for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) t.ok(isLoopbackHost(h), h)
  for (const h of ['127.evil.example', '127.0.0.1.nip.io', 'example.com', '10.0.0.1']) t.notOk(isLoopbackHost(h), h)
  const app = Fastify()
  await app.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { host: '127.evil.example', accept: 'application/json, text/event-stream', 'content-type': 'application/json' }, payload: '{}' })
  t.equal(res.statusCode, 403, 'a rebinding name in Host is refused on a loopback socket')
})

t.test('RFC 7662 introspection verifier with a short cache', async (t) => {
  const as = Fastify()
  let calls = 0
  as.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body as string))) })
  as.post('/introspect', async (request) => {
    calls++
    const { token } = request.body as { token: string }
    if (request.headers.authorization !== `Basic ${Buffer.from('rs:secret').toString('base64')}`) return { active: false }
    if (token === 'good') return { active: true, sub: 'carol', scope: 'tools:basic', client_id: 'c9', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }
    if (token === 'other-aud') return { active: true, sub: 'carol', aud: 'https://elsewhere/mcp' }
    return { active: false }
  })
  await as.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => as.close())
  const url = `http://127.0.0.1:${(as.server.address() as { port: number }).port}/introspect`
  const app = await authApp({ verifier: introspectionVerifier({ url, clientId: 'rs', clientSecret: 'secret', audience: AUDIENCE, issuer: ISSUER }), resourceMetadata: rm, audience: AUDIENCE, cacheSize: 0 })
  t.teardown(() => app.close())
  const first = await app.inject({ method: 'POST', url: '/mcp', headers: headers('good'), payload: INIT })
  t.equal(first.statusCode, 200)
  const sid = first.headers['mcp-session-id'] as string
  const who = await app.inject({ method: 'POST', url: '/mcp', headers: headers('good', { 'mcp-session-id': sid }), payload: call(2, 'whoami') })
  t.same(JSON.parse(JSON.parse(who.body).result.content[0].text), { sub: 'carol', scopes: ['tools:basic'], clientId: 'c9' })
  t.equal(calls, 1, 'the second request was answered from the cache')
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: headers('revoked'), payload: INIT })).statusCode, 401, 'inactive token')
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: headers('other-aud'), payload: INIT })).statusCode, 401, 'audience checked')
})

t.test('interop: the SDK v1 and v2 clients with a bearer token complete a session and call a scoped tool', async (t) => {
  const { app, token } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`)
  const good = await token({ sub: 'dave', scope: 'tools:basic' })
  const v1 = new ClientV1({ name: 'v1', version: '1' })
  const t1 = new TransportV1(url, { requestInit: { headers: { authorization: `Bearer ${good}` } } })
  await v1.connect(t1)
  const r1 = await v1.callTool({ name: 'whoami', arguments: {} })
  t.match((r1.content as Array<{ text: string }>)[0]?.text, /"sub":"dave"/)
  await t.rejects(v1.callTool({ name: 'admin_tool', arguments: {} }), 'a tool outside the token scope fails')
  await t1.terminateSession()
  await v1.close()
  const v2 = new ClientV2({ name: 'v2', version: '2' })
  const t2 = new TransportV2(url, { requestInit: { headers: { authorization: `Bearer ${good}` } } })
  await v2.connect(t2)
  const r2 = await v2.callTool({ name: 'whoami', arguments: {} })
  t.match((r2.content as Array<{ text: string }>)[0]?.text, /"sub":"dave"/)
  await v2.close()
})
