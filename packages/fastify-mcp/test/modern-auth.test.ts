import t from 'tap'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { AUDIENCE, authApp, headers, makeKeys, sign, type Keys } from './helpers/auth.js'
import { META_KEYS, modernMeta } from './helpers/modern.js'

const ISSUER = 'https://issuer.test'
const V = '2026-07-28'

async function setup (t: { teardown: (fn: () => unknown) => void }, extra = {}): Promise<{ app: Awaited<ReturnType<typeof authApp>>, key: Keys, token: (o?: Parameters<typeof sign>[2]) => Promise<string> }> {
  const key = await makeKeys('ES256', 'k')
  const app = await authApp({ issuer: ISSUER, audience: AUDIENCE, publicKeys: [key.jwk as Record<string, unknown>], resourceMetadata: { authorizationServers: [ISSUER] } }, extra)
  app.mcp.tool({
    name: 'confirm',
    description: 'Asks for a confirmation',
    scopes: ['tools:basic'],
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'Sure?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'ok' })
      return { content: [{ type: 'text', text: `${ctx.caller?.subject ?? '?'}: ${String(r.content?.ok)}` }] }
    }
  })
  t.teardown(() => app.close())
  return { app, key, token: async (o = {}) => await sign(key, ISSUER, o) }
}

function modern (token: string | null, id: number, method: string, params: Record<string, unknown> = {}, caps: Record<string, unknown> = {}): { headers: Record<string, string>, payload: string } {
  const h: Record<string, string> = { 'mcp-protocol-version': V, 'mcp-method': method }
  if (typeof params.name === 'string') h['mcp-name'] = params.name
  return { headers: headers(token, h), payload: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: modernMeta({ [META_KEYS.clientCapabilities]: caps }) } }) }
}

t.test('2026-07-28: a forbidden tool named in Mcp-Name is refused with the step-up challenge before the body is read', async (t) => {
  const { app, token } = await setup(t)
  const basic = await token({ scope: 'tools:basic' })
  const r = modern(basic, 7, 'tools/call', { name: 'admin_tool', arguments: {} })
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: r.headers, payload: '{"this is": not json' })
  t.equal(res.statusCode, 403, 'a 403, not the 400 a malformed body would get: the body was never parsed')
  t.match(String(res.headers['www-authenticate']), /error="insufficient_scope", .*scope="tools:admin"/)
  t.match(JSON.parse(res.body), { jsonrpc: '2.0', error: { code: -32003, message: /admin_tool/ } })
  const lying = modern(basic, 8, 'tools/call', { name: 'admin_tool', arguments: {} })
  const liar = await app.inject({ method: 'POST', url: '/mcp', headers: { ...lying.headers, 'mcp-name': 'open' }, payload: lying.payload })
  t.equal(liar.statusCode, 403, 'a header naming an allowed tool does not let the body call a forbidden one')
  t.equal(app.runs.admin, 0, 'the handler never ran')
  const admin = await token({ scope: 'tools:basic tools:admin' })
  const ok = modern(admin, 9, 'tools/call', { name: 'admin_tool', arguments: {} })
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: ok.headers, payload: ok.payload })).statusCode, 200)
  t.equal(app.runs.admin, 1)
})

t.test('2026-07-28: every request is authenticated, the caller reaches ctx.caller, results are cached privately', async (t) => {
  const { app, token } = await setup(t)
  const anon = modern(null, 1, 'tools/list')
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: anon.headers, payload: anon.payload })
  t.equal(res.statusCode, 401)
  t.match(String(res.headers['www-authenticate']), /resource_metadata=/)
  const alice = await token({ sub: 'alice', scope: 'tools:basic', clientId: 'c1' })
  const who = modern(alice, 2, 'tools/call', { name: 'whoami', arguments: {} })
  const r = JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: who.headers, payload: who.payload })).body)
  t.same(JSON.parse(r.result.content[0].text), { sub: 'alice', scopes: ['tools:basic'], clientId: 'c1' })
  const list = modern(alice, 3, 'tools/list')
  t.equal(JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: list.headers, payload: list.payload })).body).result.cacheScope, 'private')
})

t.test('2026-07-28: toolsList "allowed" filters by scope; input state is bound to the principal', async (t) => {
  const { app, token } = await setup(t, { toolsList: 'allowed' })
  const alice = await token({ sub: 'alice', scope: 'tools:basic' })
  const list = modern(alice, 1, 'tools/list')
  const names = JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: list.headers, payload: list.payload })).body).result.tools.map((x: { name: string }) => x.name)
  t.same(names.sort(), ['confirm', 'open', 'whoami'])
  const caps = { elicitation: {} }
  const ask = modern(alice, 2, 'tools/call', { name: 'confirm', arguments: {} }, caps)
  const first = JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: ask.headers, payload: ask.payload })).body).result
  t.equal(first.resultType, 'input_required')
  const retry = { name: 'confirm', arguments: {}, inputResponses: { ok: { action: 'accept', content: { ok: true } } }, requestState: first.requestState }
  const bob = await token({ sub: 'bob', scope: 'tools:basic' })
  const stolen = modern(bob, 3, 'tools/call', retry, caps)
  t.match(JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: stolen.headers, payload: stolen.payload })).body), { error: { code: -32602, message: /requestState/ } }, "another principal cannot continue alice's call")
  const own = modern(await token({ sub: 'alice', scope: 'tools:basic' }), 4, 'tools/call', retry, caps)
  t.equal(JSON.parse((await app.inject({ method: 'POST', url: '/mcp', headers: own.headers, payload: own.payload })).body).result.content[0].text, 'alice: true', 'a refreshed token of the same principal continues it')
})

t.test('interop with auth: the SDK v2 client under 2026-07-28 and the SDK v1 client in a session call a scoped tool on one app', async (t) => {
  const { app, token } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`)
  const good = await token({ sub: 'carol', scope: 'tools:basic' })
  const init = { requestInit: { headers: { authorization: `Bearer ${good}` } } }
  const v2 = new ClientV2({ name: 'v2', version: '2' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: V } } })
  v2.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { ok: true } }))
  await v2.connect(new TransportV2(url, init))
  const v1 = new ClientV1({ name: 'v1', version: '1' })
  await v1.connect(new TransportV1(url, init))
  for (const c of [v1, v2]) {
    const who = await c.callTool({ name: 'whoami', arguments: {} })
    t.match(JSON.parse((who.content as Array<{ text: string }>)[0]?.text ?? '{}'), { sub: 'carol' })
  }
  t.same((await v2.callTool({ name: 'confirm', arguments: {} })).content, [{ type: 'text', text: 'carol: true' }])
  await t.rejects(v2.callTool({ name: 'admin_tool', arguments: {} }), 'a scope the token lacks is refused under 2026 too')
  t.equal(app.runs.admin, 0)
  await v1.close()
  await v2.close()
})

t.test('2026-07-28: a listen stream ends with its result when the token that opened it expires', async (t) => {
  const { app, token } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  const exp = Math.floor(Date.now() / 1000) + 2
  const short = await token({ sub: 'dora', scope: 'tools:basic', exp })
  const r = modern(short, 41, 'subscriptions/listen', { notifications: { toolsListChanged: true } })
  const res = await fetch(url, { method: 'POST', headers: { ...r.headers, host: `127.0.0.1:${(app.server.address() as { port: number }).port}` }, body: r.payload })
  t.equal(res.status, 200)
  const text = await res.text()
  const messages = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { method?: string, id?: number, result?: unknown })
  t.equal(messages[0]?.method, 'notifications/subscriptions/acknowledged')
  t.match(messages.at(-1), { id: 41, result: { resultType: 'complete' } }, 'the stream ended with the listen result')
  t.ok(Math.floor(Date.now() / 1000) >= exp, 'not before the token expired')
})
