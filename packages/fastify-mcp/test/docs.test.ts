import t from 'tap'
import { readFileSync } from 'node:fs'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import Fastify from 'fastify'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { build as quickstart } from '../examples/quickstart.js'
import { build as jwksExample } from '../examples/jwks.js'
import { build as inputExample } from '../examples/input.js'
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('every example in the README is the tested file, verbatim', async (t) => {
  for (const name of ['quickstart', 'jwks', 'input']) {
    const source = readFileSync(new URL(`../examples/${name}.ts`, import.meta.url), 'utf8').trim()
    t.ok(readme.includes(source), `README shows examples/${name}.ts`)
  }
})

t.test('the root README shows the quickstart and the same option table as the plugin README', async (t) => {
  const root = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
  const quick = readFileSync(new URL('../examples/quickstart.ts', import.meta.url), 'utf8').trim()
  t.ok(root.includes(quick), 'quickstart verbatim')
  const table = (text: string): string => {
    const start = text.indexOf('| option | default | meaning |')
    return text.slice(start, text.indexOf('\n\n', start))
  }
  t.ok(table(readme).length > 500, 'the plugin README has the option table')
  t.equal(table(root), table(readme), 'the tables are identical')
})

t.test('the quickstart serves its tool to a real client', async (t) => {
  const app = await quickstart()
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = new Client({ name: 'docs', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)))
  const result = await client.callTool({ name: 'forecast', arguments: { city: 'Oslo' } })
  t.same(result.structuredContent, { city: 'Oslo', summary: 'sunny' })
  await client.close()
})

t.test('the JWKS example verifies tokens and enforces the tool scope', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...await exportJWK(publicKey), kid: 'k1', alg: 'ES256', use: 'sig' }
  const idp = Fastify()
  idp.get('/jwks', async () => ({ keys: [jwk] }))
  await idp.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => idp.close())
  const issuer = `http://127.0.0.1:${(idp.server.address() as { port: number }).port}`
  const publicUrl = 'http://127.0.0.1:9/mcp'
  const app = await jwksExample({ issuer, jwksUrl: `${issuer}/jwks`, publicUrl })
  t.teardown(() => app.close())
  const token = async (scope: string): Promise<string> => await new SignJWT({ scope })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience(publicUrl).setSubject('alice')
    .setIssuedAt().setExpirationTime('5m').sign(privateKey)
  const headers = (tk: string, extra: Record<string, string> = {}): Record<string, string> => ({ host: '127.0.0.1:9', accept: 'application/json, text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${tk}`, ...extra })
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'd', version: '1' } } }
  const good = await token('ledger:read')
  const opened = await app.inject({ method: 'POST', url: '/mcp', headers: headers(good), payload: init })
  t.equal(opened.statusCode, 200)
  const sid = opened.headers['mcp-session-id'] as string
  const callBody = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'balance', arguments: { account: 'A-1' } } }
  const ok = await app.inject({ method: 'POST', url: '/mcp', headers: headers(good, { 'mcp-session-id': sid }), payload: callBody })
  t.match(JSON.parse(ok.body).result.content[0].text, /A-1: 100.00 \(asked by alice\)/)
  const weak = await token('other')
  const denied = await app.inject({ method: 'POST', url: '/mcp', headers: headers(weak, { 'mcp-session-id': sid }), payload: callBody })
  t.equal(denied.statusCode, 403)
  t.match(denied.headers['www-authenticate'], /insufficient_scope/)
  const none = await app.inject({ method: 'POST', url: '/mcp', headers: { host: '127.0.0.1:9', accept: 'application/json, text/event-stream', 'content-type': 'application/json' }, payload: init })
  t.equal(none.statusCode, 401)
})

t.test('the input example asks the user in both eras: a 2025 session (SDK v1) and 2026-07-28 (SDK v2)', async (t) => {
  const app = await inputExample()
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`)
  const v1 = new Client({ name: 'v1', version: '1' }, { capabilities: { elicitation: {} } })
  const asked: string[] = []
  v1.setRequestHandler(ElicitRequestSchema, async (req) => { asked.push(req.params.message); return { action: 'accept', content: { confirm: true } } })
  await v1.connect(new StreamableHTTPClientTransport(url))
  t.same((await v1.callTool({ name: 'refund', arguments: { order: 'O-1' } })).content, [{ type: 'text', text: 'refunded O-1' }])
  const v2 = new ClientV2({ name: 'v2', version: '2' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } })
  v2.setRequestHandler('elicitation/create', async (req) => { asked.push(req.params.message); return { action: 'decline' } })
  await v2.connect(new TransportV2(url))
  t.equal(v2.getProtocolEra(), 'modern')
  t.same((await v2.callTool({ name: 'refund', arguments: { order: 'O-2' } })).content, [{ type: 'text', text: 'kept O-2' }])
  t.same(asked, ['Refund order O-1?', 'Refund order O-2?'])
  await v1.close()
  await v2.close()
})
