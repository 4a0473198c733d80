import t from 'tap'
import { AUDIENCE, INIT, authApp, headers, makeKeys, sign } from './helpers/auth.js'
import { modernMeta } from './helpers/modern.js'

const ISSUER = 'https://issuer.test'
const V = '2026-07-28'

/** An authenticated app whose completions answer with what they know of the caller. */
async function setup (t: { teardown: (fn: () => unknown) => void }): Promise<{ app: Awaited<ReturnType<typeof authApp>>, token: (sub: string, scope: string) => Promise<string> }> {
  const key = await makeKeys('ES256', 'k')
  const app = await authApp({ issuer: ISSUER, audience: AUDIENCE, publicKeys: [key.jwk as Record<string, unknown>], resourceMetadata: { authorizationServers: [ISSUER] } })
  app.mcp.resourceTemplate({
    uriTemplate: 'item://{id}',
    name: 'item',
    scopes: ['items:read'],
    complete: { id: (value, { caller }) => [`${value}-${caller?.subject ?? 'nobody'}`] },
    handler: (uri) => ({ contents: [{ uri: uri.href, text: 'item' }] })
  })
  app.mcp.prompt({
    name: 'greet',
    description: 'Greets',
    arguments: [{ name: 'who', required: true, complete: (value, { caller, arguments: args }) => [`${value}:${caller?.subject ?? 'nobody'}:${args.lang ?? ''}`] }],
    handler: (args) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hello ${args.who ?? ''}` } }] })
  })
  t.teardown(() => app.close())
  return { app, token: async (sub, scope) => await sign(key, ISSUER, { sub, scope }) }
}

const complete = (id: number, ref: Record<string, unknown>, value: string, meta?: Record<string, unknown>): Record<string, unknown> =>
  ({ jsonrpc: '2.0', id, method: 'completion/complete', params: { ref, argument: { name: ref.type === 'ref/prompt' ? 'who' : 'id', value }, context: { arguments: { lang: 'en' } }, ...(meta === undefined ? {} : { _meta: meta }) } })

t.test('2025 session: completion functions get the caller; a template completes only for a caller holding its scopes', async (t) => {
  const { app, token } = await setup(t)
  const reader = await token('rita', 'items:read')
  const init = await app.inject({ method: 'POST', url: '/mcp', headers: headers(reader), payload: INIT })
  const sid = init.headers['mcp-session-id'] as string
  const post = async (tok: string, session: string, body: Record<string, unknown>): Promise<{ status: number, json: { result?: { completion: { values: string[] } }, error?: { code: number, message: string } } }> => {
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(tok, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }), payload: body })
    return { status: res.statusCode, json: JSON.parse(res.body) }
  }
  t.same((await post(reader, sid, complete(2, { type: 'ref/resource', uri: 'item://{id}' }, 'x'))).json.result?.completion.values, ['x-rita'])
  t.same((await post(reader, sid, complete(3, { type: 'ref/prompt', name: 'greet' }, 'a'))).json.result?.completion.values, ['a:rita:en'])

  const other = await token('otto', 'tools:basic')
  const init2 = await app.inject({ method: 'POST', url: '/mcp', headers: headers(other), payload: INIT })
  const sid2 = init2.headers['mcp-session-id'] as string
  const refused = await post(other, sid2, complete(4, { type: 'ref/resource', uri: 'item://{id}' }, 'x'))
  t.match(refused.json, { error: { code: -32003, message: /Insufficient scope for resource template "item:\/\/\{id\}"/ } })
  t.same((await post(other, sid2, complete(5, { type: 'ref/prompt', name: 'greet' }, 'b'))).json.result?.completion.values, ['b:otto:en'], 'prompt arguments complete for any caller')
})

t.test('2026-07-28: the same, per request', async (t) => {
  const { app, token } = await setup(t)
  const meta = modernMeta()
  const post = async (tok: string, body: Record<string, unknown>): Promise<{ result?: { completion: { values: string[] } }, error?: { code: number } }> => {
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(tok, { 'mcp-protocol-version': V, 'mcp-method': 'completion/complete' }), payload: body })
    return JSON.parse(res.body)
  }
  t.same((await post(await token('rita', 'items:read'), complete(1, { type: 'ref/resource', uri: 'item://{id}' }, 'y', meta))).result?.completion.values, ['y-rita'])
  t.match(await post(await token('otto', 'tools:basic'), complete(2, { type: 'ref/resource', uri: 'item://{id}' }, 'y', meta)), { error: { code: -32003 } })
})
