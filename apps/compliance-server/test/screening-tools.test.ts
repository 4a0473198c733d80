// screen_sanctions and screen_batch seen by a real MCP client over a listening server.
import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildApp } from '../src/app.js'
import { setupAuth } from '../src/auth.js'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/services.js'

const SECRET = 'test-secret-that-is-long-enough-0123456789'

const dir = await mkdtemp(join(tmpdir(), 'cs-screen-'))
const config = loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', MCP_PUBLIC_URL: 'http://127.0.0.1/mcp' })
const services = await createServices(config)
const { auth } = await setupAuth(config)
const app = await buildApp({ config, auth, services, logger: false })
t.teardown(async () => { await app.close(); await services.records.close().catch(() => {}) })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
const jwt = await new SignJWT({ scope: 'sanctions:screen', client_id: 'tests' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test')
  .setAudience('http://127.0.0.1/mcp').setSubject('analyst-7').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
const client = new Client({ name: 'tests', version: '1' })
await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${jwt}` } } }))
t.teardown(async () => { await client.close() })

interface Hit { source: string, id: string, matchedName: string, matchedNameKind: string, score: number, explanation: { tokens: unknown[], adjustments: Array<{ reason: string, delta: number }>, score: number } }

t.test('screen_sanctions keeps its output names and adds the explanation and the weak-alias policy', async (t) => {
  const res = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Putin Vladimir', birthDate: '1952-10-07', nationality: 'Russia', sources: ['OFAC-SDN'] } })
  const s = res.structuredContent as { query: Record<string, unknown>, hits: Hit[], weakAliasPolicy: string, algorithm: { name: string, version: string, threshold: number }, datasets: unknown[] }
  t.match(s.query, { name: 'Putin Vladimir', birthDate: '1952-10-07', nationality: 'Russia', sources: ['OFAC-SDN'] })
  t.equal(s.weakAliasPolicy, 'excluded')
  t.match(s.hits[0], { source: 'OFAC-SDN', id: '35096', name: String, matchedName: String, matchedNameKind: String, score: 1, type: 'individual', programs: Array, countries: Array })
  t.same(s.hits[0]?.explanation.adjustments.map((a) => a.reason), ['birth_date', 'nationality'])
  t.match((res.content as Array<{ text: string }>)[0]?.text, /weak aliases excluded.*\n- OFAC-SDN 35096 .* via (aka|primary) "PUTIN, Vladimir.*\[putin~putin/)
  const weak = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Burton Burgess', includeWeakAliases: true } })
  t.equal((weak.structuredContent as { weakAliasPolicy: string }).weakAliasPolicy, 'included')
})

t.test('screen_batch answers per subject in input order, with progress notifications', async (t) => {
  const subjects = [
    { ref: 'c-1', name: 'Banco Nacional de Cuva' },
    { name: 'John Smith' },
    { ref: 'c-3', name: 'Vladimir Putin', birthDate: '1952' },
    ...Array.from({ length: 37 }, (_, i) => ({ ref: `filler-${i}`, name: `Customer Number ${i}` }))
  ]
  const progress: Array<{ progress: number, total?: number }> = []
  const res = await client.callTool({ name: 'screen_batch', arguments: { subjects } }, undefined, { onprogress: (p) => { progress.push(p) } })
  const s = res.structuredContent as { results: Array<{ ref: string, hits: Hit[], weakAliasPolicy: string }>, summary: { subjects: number, withHits: number } }
  t.same(s.results.map((r) => r.ref), ['c-1', '2', 'c-3', ...Array.from({ length: 37 }, (_, i) => `filler-${i}`)])
  t.equal(s.results[0]?.hits[0]?.id, '306')
  t.same(s.results[1]?.hits, [])
  t.equal(s.results[2]?.hits[0]?.id, '35096')
  t.ok(s.results.every((r) => r.weakAliasPolicy === 'excluded'))
  t.equal(s.summary.subjects, 40)
  t.ok(progress.length >= 2, `${progress.length} progress notifications`)
  t.same(progress.at(-1), { progress: 40, total: 40, message: '40 of 40 subjects screened' })
  t.ok(progress.every((p, i) => i === 0 || p.progress > (progress[i - 1]?.progress ?? 0)), 'progress increases')
  const single = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Banco Nacional de Cuva' } })
  t.same(s.results[0]?.hits, (single.structuredContent as { hits: Hit[] }).hits, 'the same hits as screen_sanctions')
})

t.test('screen_batch refuses more than 1,000 subjects', async (t) => {
  const res = await client.callTool({ name: 'screen_batch', arguments: { subjects: Array.from({ length: 1001 }, () => ({ name: 'x y' })) } })
  t.equal(res.isError, true)
})
