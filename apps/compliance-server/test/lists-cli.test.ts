import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { ListManager, sourcesOfDir, type SourceConfig } from '../src/lists/index.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const FIX = fileURLToPath(new URL('./fixtures/lists/', import.meta.url))

function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

t.test('list-info names the format and the publication date the file states', async (t) => {
  const adv = await run(['list-info', join(FIX, 'SDN_ADVANCED.XML')])
  t.equal(adv.code, 0)
  t.match(adv.stdout, /the OFAC Advanced XML \(ofac-advanced-xml\)\n {2}OFAC-SDN: 2 records, published 2024-05-03\n {2}sha256 [0-9a-f]{64}/)
  const csv = await run(['list-info', join(DEFAULT_DATA_DIR, 'ofac-sample')])
  t.match(csv.stdout, /the OFAC legacy CSV set \(ofac-csv\)\n {2}OFAC-SDN: 68 records, published not stated by the format/)
  const bad = await run(['list-info', join(DEFAULT_DATA_DIR, 'PROVENANCE.md')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /PROVENANCE\.md: not a sanctions list this service reads; expected one of/)
})

t.test('fetch-lists downloads the configured sources into a folder that then serves air-gapped', async (t) => {
  const eu = await readFile(join(FIX, 'eu-fsf.xml'))
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/fsf/content') === true) res.writeHead(200, { 'content-type': 'application/xml' }).end(eu)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const out = await mkdtemp(join(tmpdir(), 'fetch-lists-'))
  const sources: SourceConfig[] = [
    { id: 'eu', format: 'eu-fsf-xml', url: `${base}/fsf/content?token=x` },
    { id: 'un', format: 'auto', path: join(DEFAULT_DATA_DIR, 'un-sample', 'consolidated.sample.xml') },
    { id: 'gone', format: 'uk-xml', url: `${base}/missing.xml` }
  ]
  const r = await run(['fetch-lists', '--out', out], { SANCTIONS_SOURCES: JSON.stringify(sources) })
  t.equal(r.code, 2, 'a source that failed makes the exit status 2')
  t.match(r.stdout, /^eu: EU 2 records, published 2024-05-03 -> /m)
  t.match(r.stdout, /^un: UN 12 records, published 2026-02-27 -> /m)
  t.match(r.stdout, /^gone: FAILED .*missing\.xml: HTTP 404/m)
  const written = JSON.parse(await readFile(join(out, 'sources.json'), 'utf8')) as SourceConfig[]
  t.same(written.map((s) => [s.id, s.format]), [['eu', 'eu-fsf-xml'], ['un', 'un-xml']])
  for (const list of [written, await sourcesOfDir(out)]) {
    const m = new ListManager({ sources: list, buildIndex: (e) => e, refreshIntervalMs: 0 })
    await m.start()
    t.same(m.current().datasets.map((d) => [d.source, d.records, d.publishedAt]), [['EU', 2, '2024-05-03'], ['UN', 12, '2026-02-27']])
    await m.close()
  }
})
