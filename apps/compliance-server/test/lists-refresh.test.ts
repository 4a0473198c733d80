import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildApp } from '../src/app.js'
import { setupAuth } from '../src/auth.js'
import { DEFAULT_DATA_DIR, loadConfig } from '../src/config.js'
import { ListManager, type ListChange } from '../src/lists/index.js'
import { buildScreeningIndex, createServices } from '../src/services.js'
import { until } from './helpers/wait.js'

const UN_XML = await readFile(join(DEFAULT_DATA_DIR, 'un-sample', 'consolidated.sample.xml'), 'utf8')
const NEW_PERSON = `<INDIVIDUAL><DATAID>9999999</DATAID><VERSIONNUM>1</VERSIONNUM><FIRST_NAME>ZEBEDIAH</FIRST_NAME><SECOND_NAME>QUORTLEBY</SECOND_NAME>
<UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.999</REFERENCE_NUMBER><LISTED_ON>2026-03-01</LISTED_ON></INDIVIDUAL>`
const withNewPerson = (xml: string): string => xml.replace('<INDIVIDUALS>', `<INDIVIDUALS>${NEW_PERSON}`).replace(/dateGenerated="[^"]+"/, 'dateGenerated="2026-03-02T00:00:00Z"')

/** A list server on loopback: ETag and If-None-Match as an official site does them; its content can be changed by the test. */
async function listServer (t: Test): Promise<{ url: string, set: (body: string | Buffer) => void, requests: Array<{ ifNoneMatch: string | undefined, status: number }> }> {
  let body: Buffer = Buffer.from(UN_XML)
  const requests: Array<{ ifNoneMatch: string | undefined, status: number }> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`
    const inm = req.headers['if-none-match']
    if (inm === etag) {
      requests.push({ ifNoneMatch: inm, status: 304 })
      res.writeHead(304, { etag }).end()
      return
    }
    requests.push({ ifNoneMatch: inm, status: 200 })
    res.writeHead(200, { etag, 'content-type': 'application/xml', 'content-length': body.length }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => { resolve() })))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/consolidated.xml`, set: (b) => { body = Buffer.from(b) }, requests }
}


t.test('a refresh from a list server: a name added is found, a name removed is gone, a broken or truncated download leaves the previous version', async (t) => {
  const srv = await listServer(t)
  let builds = 0
  const changes: ListChange[] = []
  const m = new ListManager({ sources: [{ id: 'un', format: 'un-xml', url: srv.url }], buildIndex: (e) => { builds++; return buildScreeningIndex(e) }, refreshIntervalMs: 0 })
  m.onListChange((c) => { changes.push(c) })
  t.teardown(async () => { await m.close() })
  await m.start()
  const v1 = m.current()
  t.equal(v1.datasets[0]?.publishedAt, '2026-02-27')
  t.equal(v1.datasets[0]?.sourceId, 'un')
  t.same(v1.index.screen({ name: 'Zebediah Quortleby' }), [])
  t.equal(builds, 1)

  // Unchanged: the server answers 304 to the conditional request, nothing is rebuilt.
  const same = await m.refresh()
  t.same(same.unchanged, ['un'])
  t.equal(srv.requests.at(-1)?.status, 304)
  t.ok(srv.requests.at(-1)?.ifNoneMatch?.startsWith('"'), 'the ETag was sent back as If-None-Match')
  t.equal(builds, 1, '304 costs no rebuild')
  t.equal(m.current(), v1)

  srv.set(withNewPerson(UN_XML))
  const added = await m.refresh()
  t.same(added.changed, ['un'])
  const v2 = m.current()
  t.not(v2.id, v1.id)
  t.equal(v2.datasets[0]?.publishedAt, '2026-03-02')
  t.equal(v2.index.screen({ name: 'Zebediah Quortleby' })[0]?.id, 'KPi.999', 'found without restart')
  t.same(v1.index.screen({ name: 'Zebediah Quortleby' }), [], 'the old version, held by a request that started on it, is untouched')
  t.equal(changes.length, 1)
  t.same(changes[0]?.added.map((e) => e.id), ['KPi.999'])
  t.same(changes[0]?.removed, [])
  t.same(changes[0]?.changed, [])
  t.equal(changes[0]?.sourceId, 'un')
  t.equal(changes[0]?.previous[0]?.publishedAt, '2026-02-27')
  t.equal(changes[0]?.current[0]?.publishedAt, '2026-03-02')

  // Broken: a cut download does not parse; truncated to few records: refused by SANCTIONS_MIN_RATIO.
  const full = withNewPerson(UN_XML)
  srv.set(full.slice(0, Math.floor(full.length / 2)))
  const broken = await m.refresh()
  t.same(broken.failed.map((f) => f.id), ['un'])
  t.match(broken.failed[0]?.error, /consolidated\.xml: not well-formed XML/)
  t.equal(m.current(), v2, 'the previous version keeps serving')
  t.match(m.status()[0]?.lastError, /not well-formed/)
  const shrunk = full.replace(/<ENTITIES>[\s\S]*<\/ENTITIES>/, '<ENTITIES/>').replace(/(<INDIVIDUALS>[\s\S]*?<\/INDIVIDUAL>)[\s\S]*<\/INDIVIDUALS>/, '$1</INDIVIDUALS>')
  srv.set(shrunk)
  const small = await m.refresh()
  t.match(small.failed[0]?.error, /1 records against 13 before \(below SANCTIONS_MIN_RATIO 0\.8\)/)
  t.equal(m.current(), v2)

  srv.set(UN_XML)
  await m.refresh()
  t.same(m.current().index.screen({ name: 'Zebediah Quortleby' }), [], 'a name removed is gone')
  t.same(changes.at(-1)?.removed.map((e) => e.id), ['KPi.999'])
  t.equal(m.status()[0]?.lastError, null)
})

t.test('a changed entry is reported as changed; a path source is re-read only when the file changed', async (t) => {
  const { writeFile } = await import('node:fs/promises')
  const dir = await mkdtemp(join(tmpdir(), 'lists-'))
  const path = join(dir, 'un.xml')
  await writeFile(path, UN_XML)
  let builds = 0
  const m = new ListManager({ sources: [{ id: 'un', format: 'auto', path }], buildIndex: (e) => { builds++; return e }, refreshIntervalMs: 0 })
  const changes: ListChange[] = []
  m.onListChange((c) => { changes.push(c) })
  await m.start()
  t.same((await m.refresh()).unchanged, ['un'])
  t.equal(builds, 1)
  await writeFile(path, UN_XML.replace('<FIRST_NAME>JO</FIRST_NAME>', '<FIRST_NAME>JOE</FIRST_NAME>'))
  t.same((await m.refresh()).changed, ['un'])
  t.equal(builds, 2)
  t.same(changes[0]?.changed.map((e) => [e.id, e.name]), [['KPi.058', 'JOE CHOL SONG']])
  t.same(changes[0]?.added, [])
  await m.close()
})

const SECRET = 'test-secret-that-is-long-enough-0123456789'

t.test('through the service: screening during swaps never fails or mixes versions; stale lists turn /ready to 503 and warn every answer', async (t) => {
  const srv = await listServer(t)
  const dir = await mkdtemp(join(tmpdir(), 'cs-'))
  const config = loadConfig({
    AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', MCP_PUBLIC_URL: 'http://127.0.0.1/mcp',
    SANCTIONS_SOURCES: JSON.stringify([{ id: 'un', format: 'un-xml', url: srv.url }]),
    SANCTIONS_REFRESH_INTERVAL: '0',
    SANCTIONS_MAX_AGE: '1h'
  })
  let clock = Date.now()
  const services = await createServices(config, { now: () => clock })
  const { auth } = await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger: false })
  t.teardown(async () => { await app.close(); await services.records.close().catch(() => {}) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const token = await new SignJWT({ scope: 'sanctions:screen sanctions:read', client_id: 'tests' })
    .setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setAudience('http://127.0.0.1/mcp').setSubject('analyst').setIssuedAt().setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
  const client = new Client({ name: 'tests', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  t.teardown(async () => { await client.close() })

  type Answer = { hits: Array<{ id: string }>, listVersion: string, datasets: Array<{ sha256: string, records: number }>, warnings: Array<{ code: string }> }
  const screen = async (): Promise<Answer> => {
    const r = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Zebediah Quortleby' } })
    if (r.isError === true) throw new Error(JSON.stringify(r.content))
    return r.structuredContent as Answer
  }
  const first = await screen()
  t.same(first.hits, [])
  t.same(first.warnings, [])
  const withoutId = first.listVersion
  const bodies = [withNewPerson(UN_XML), UN_XML]
  const answers: Answer[] = []
  let running = true
  const load = (async () => { while (running) answers.push(await screen()) })()
  const loads = [load, (async () => { while (running) answers.push(await screen()) })()]
  for (let i = 0; i < 6; i++) {
    srv.set(bodies[i % 2] as string)
    await services.lists.refresh()
    const target = answers.length + 4
    await until(() => answers.length >= target, 20_000, 5)
  }
  running = false
  await Promise.all(loads)
  const versions = new Set(answers.map((a) => a.listVersion))
  t.equal(versions.size, 2, 'answers came from both versions')
  t.ok(answers.length > 0)
  const withId = answers.find((a) => a.hits.length > 0)?.listVersion
  for (const a of answers) {
    const expectHit = a.listVersion !== withoutId
    if ((a.hits[0]?.id === 'KPi.999') !== expectHit || (a.datasets[0]?.records === 13) !== expectHit) {
      t.fail(`answer mixes versions: ${JSON.stringify({ v: a.listVersion, hits: a.hits.map((h) => h.id), records: a.datasets[0]?.records })}`)
    }
  }
  t.pass(`${answers.length} answers across ${versions.size} versions (${withId === undefined ? 'no' : 'some'} on the version with the added name), none mixed`)

  // Staleness: the list server goes away; once the last successful check is older than SANCTIONS_MAX_AGE, /ready is 503.
  const ready = async (): Promise<{ code: number, body: { checks: { listsFresh: boolean }, sources: Array<{ ageSeconds: number, stale: boolean }> } }> => {
    const r = await fetch(`${base}/ready`)
    return { code: r.status, body: await r.json() as never }
  }
  t.equal((await ready()).code, 200)
  clock += 2 * 3_600_000
  const stale = await ready()
  t.equal(stale.code, 503)
  t.equal(stale.body.checks.listsFresh, false)
  t.same(stale.body.sources.map((x) => [x.stale, x.ageSeconds >= 7200]), [[true, true]])
  const warned = await screen()
  t.same(warned.warnings.map((w) => w.code), ['stale'])
  const sources = await client.callTool({ name: 'list_sources', arguments: {} })
  t.same((sources.structuredContent as { warnings: Array<{ code: string }> }).warnings.map((w) => w.code), ['stale'])
  // A successful check (here a 304) makes it fresh again: age runs from the last successful check, not the publication date.
  await services.lists.refresh()
  t.equal(srv.requests.at(-1)?.status, 304)
  t.equal((await ready()).code, 200)
  t.same((await screen()).warnings, [])
})

t.test('an OFAC CSV set from a base URL, refreshed by the timer: conditional requests per file, absent optional files are fine', async (t) => {
  const { readFile: rf } = await import('node:fs/promises')
  const files = new Map<string, Buffer>()
  for (const n of ['sdn.csv', 'alt.csv', 'add.csv', 'sdn_comments.csv']) files.set(n, await rf(join(DEFAULT_DATA_DIR, 'ofac-sample', n)))
  const seen: Array<[string, number]> = []
  const server = createServer((req, res) => {
    const name = req.url?.replace(/^\/ofac\//, '') ?? ''
    const body = files.get(name)
    if (body === undefined) { seen.push([name, 404]); res.writeHead(404).end(); return }
    const lastModified = new Date(1_700_000_000_000 + body.length * 1000).toUTCString()
    if (req.headers['if-modified-since'] === lastModified) { seen.push([name, 304]); res.writeHead(304).end(); return }
    seen.push([name, 200])
    res.writeHead(200, { 'last-modified': lastModified }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  let builds = 0
  const m = new ListManager({
    sources: [{ id: 'ofac', format: 'ofac-csv', url: `http://127.0.0.1:${(server.address() as { port: number }).port}/ofac` }],
    buildIndex: (e) => { builds++; return buildScreeningIndex(e) },
    refreshIntervalMs: 50
  })
  t.teardown(async () => { await m.close() })
  await m.start()
  t.same(m.current().datasets.map((d) => [d.source, d.records, d.publishedAt]), [['OFAC-SDN', 68, null]])
  t.ok(seen.some(([n, s]) => n === 'cons_prim.csv' && s === 404), 'the consolidated set was looked for')
  // The timer checks again: every present file answers 304, nothing is rebuilt.
  t.ok(await until(() => seen.some(([n, s]) => n === 'sdn.csv' && s === 304), 10_000, 10))
  t.equal(builds, 1)
  // A new row appears in sdn.csv: the timer picks it up without a restart.
  files.set('sdn.csv', Buffer.concat([files.get('sdn.csv') as Buffer, Buffer.from('99999001,"QUORTLEBY, Zebediah","individual","[SDGT]",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n', 'latin1')]))
  await until(() => m.current().index.screen({ name: 'Zebediah Quortleby' }).length > 0, 20_000, 10)
  t.equal(m.current().index.screen({ name: 'Zebediah Quortleby' })[0]?.id, '99999001')
  t.equal(m.current().datasets[0]?.records, 69)
})
