import t from 'tap'
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_DATA_DIR, loadConfig } from '../src/config.js'
import { detectFormat, ListManager, parseSources, readFiles, sourcesOfDir, type ListFile } from '../src/lists/index.js'

const FIX = fileURLToPath(new URL('./fixtures/lists/', import.meta.url))
const file = async (dir: string, name: string, as = name): Promise<ListFile> => ({ name: as, bytes: await readFile(join(dir, name)) })
const UN = join(DEFAULT_DATA_DIR, 'un-sample')
const OFAC = join(DEFAULT_DATA_DIR, 'ofac-sample')

t.test('OFAC SDN XML: entries, aliases, birth dates and Publish_Date', async (t) => {
  const [r] = await readFiles([await file(FIX, 'sdn.xml')], 'ofac-xml')
  t.equal(r?.source, 'OFAC-SDN')
  t.equal(r?.publishedAt, '2024-05-03')
  const putin = r?.entries.find((e) => e.id === '35096')
  t.equal(putin?.name, 'PUTIN, Vladimir Vladimirovich')
  t.equal(putin?.type, 'individual')
  t.same(putin?.birthDates, ['1952-10-07'])
  t.same(putin?.countries, ['Russia'])
  const bank = r?.entries.find((e) => e.id === '306')
  t.same(bank?.aliases, [{ name: 'NATIONAL BANK OF CUBA', kind: 'aka' }])
  t.same(bank?.countries, ['Japan', 'Switzerland'])
  t.same(bank?.programs, ['CUBA'])
})

t.test('OFAC Advanced XML: DateOfIssue, names from their parts, features, documents, programs', async (t) => {
  const [r] = await readFiles([await file(FIX, 'SDN_ADVANCED.XML')], 'ofac-advanced-xml')
  t.equal(r?.publishedAt, '2024-05-03')
  const putin = r?.entries.find((e) => e.id === '35096')
  t.equal(putin?.name, 'PUTIN, Vladimir Vladimirovich')
  t.equal(putin?.type, 'individual')
  t.same(putin?.aliases, [{ name: 'POUTINE, Vladimir', kind: 'aka' }])
  t.same(putin?.birthDates, ['1952-10-07'])
  t.same(putin?.countries, ['Russia'])
  t.same(putin?.identifiers, [{ kind: 'passport', value: '100000001' }])
  t.same(putin?.programs, ['RUSSIA-EO14024'])
  const ship = r?.entries.find((e) => e.id === '24999')
  t.equal(ship?.type, 'vessel')
  t.same(ship?.identifiers, [{ kind: 'imo', value: '9187629' }])
})

t.test('EU FSF XML: generationDate, subject types, weak aliases, identifications', async (t) => {
  const [r] = await readFiles([await file(FIX, 'eu-fsf.xml')], 'eu-fsf-xml')
  t.equal(r?.source, 'EU')
  t.equal(r?.publishedAt, '2024-05-03')
  const q = r?.entries.find((e) => e.id === '13')
  t.equal(q?.name, 'Qusay Saddam Hussein Al-Tikriti')
  t.equal(q?.type, 'individual')
  t.same(q?.aliases, [{ name: 'Qusai', kind: 'weak' }])
  t.same(q?.birthDates, ['1966-05-17'])
  t.same(q?.programs, ['IRQ'])
  const s = r?.entries.find((e) => e.id === '30')
  t.equal(s?.type, 'entity')
  t.same(s?.identifiers, [{ kind: 'regnumber', value: '1027739028712' }])
})

t.test('UK Sanctions List XML: DateGenerated, names, non-Latin names, DOB', async (t) => {
  const [r] = await readFiles([await file(FIX, 'UK_Sanctions_List.xml')], 'uk-xml')
  t.equal(r?.source, 'UK')
  t.equal(r?.publishedAt, '2024-05-03')
  const p = r?.entries.find((e) => e.id === 'RUS0251')
  t.equal(p?.name, 'PUTIN, Vladimir Vladimirovich')
  t.same(p?.birthDates, ['1952-10-07'])
  t.ok(p?.aliases.some((a) => a.name === 'Владимир Владимирович Путин'))
  const s = r?.entries.find((e) => e.id === 'RUS1500')
  t.same(s?.aliases, [{ name: 'PAO SOVCOMFLOT', kind: 'aka' }])
  t.same(s?.countries, ['Russia'])
})

t.test('UN XML and the OFAC CSV set (real excerpts): the CSV has no date, the UN its dateGenerated', async (t) => {
  const [un] = await readFiles([await file(UN, 'consolidated.sample.xml')], 'un-xml')
  t.equal(un?.publishedAt, '2026-02-27')
  t.equal(un?.entries.length, 12)
  const csv = await readFiles(await Promise.all(['sdn.csv', 'alt.csv', 'add.csv', 'sdn_comments.csv'].map(async (n) => await file(OFAC, n))), 'ofac-csv')
  t.equal(csv[0]?.publishedAt, null)
  t.equal(csv[0]?.entries.length, 68)
})

t.test('formats are detected from content, never from the name', async (t) => {
  t.equal(detectFormat(await readFile(join(FIX, 'sdn.xml'))), 'ofac-xml')
  t.equal(detectFormat(await readFile(join(FIX, 'SDN_ADVANCED.XML'))), 'ofac-advanced-xml')
  t.equal(detectFormat(await readFile(join(FIX, 'eu-fsf.xml'))), 'eu-fsf-xml')
  t.equal(detectFormat(await readFile(join(FIX, 'UK_Sanctions_List.xml'))), 'uk-xml')
  t.equal(detectFormat(await readFile(join(UN, 'consolidated.sample.xml'))), 'un-xml')
  t.equal(detectFormat(await readFile(join(OFAC, 'sdn.csv'))), 'ofac-csv')
  t.equal(detectFormat(Buffer.from('<?xml version="1.0"?><html><body/></html>')), null)
  t.equal(detectFormat(Buffer.from('name,country\nx,y\n')), null)
  // A UN list named like an OFAC file is read as what it is.
  const [r] = await readFiles([await file(UN, 'consolidated.sample.xml', 'sdn.xml')], 'auto')
  t.equal(r?.format, 'un-xml')
})

t.test('a file that is not the declared format, or broken, is refused naming the file and what was expected', async (t) => {
  await t.rejects(readFiles([await file(FIX, 'sdn.xml')], 'un-xml'), /sdn\.xml: expected the UN consolidated list XML, but the content is the OFAC SDN XML/)
  const bytes = await readFile(join(FIX, 'eu-fsf.xml'))
  await t.rejects(readFiles([{ name: 'eu.xml', bytes: bytes.subarray(0, bytes.length - 200) }], 'auto'), /eu\.xml: not well-formed XML .*expected the EU Financial Sanctions Files XML/)
  await t.rejects(readFiles([{ name: 'page.xml', bytes: Buffer.from('<html/>') }], 'auto'), /page\.xml: not a sanctions list this service reads; expected one of/)
})

t.test('regression: a bad row deep in a large OFAC CSV is refused with its line, and the process survives', async (t) => {
  const rows = ['1,"A","individual","[X]"']
  for (let i = 0; i < 5000; i++) rows.push(`${i + 2},"N${i}","individual","[X]"`)
  rows.push('abc,"BAD","individual","[X]"')
  for (let i = 0; i < 20000; i++) rows.push(`${i + 9000},"M${i}","individual","[X]"`)
  await t.rejects(readFiles([{ name: 'sdn.csv', bytes: Buffer.from(rows.join('\r\n')) }], 'ofac-csv'), /^sdn\.csv line 5002: expected an ent_num and a name/)
  await new Promise((resolve) => setImmediate(resolve))
  t.pass('no unhandled rejection')
})

t.test('a data folder with OFAC sdn.xml beside the CSVs and a broken file: everything readable loads', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lists-'))
  for (const n of ['sdn.csv', 'alt.csv', 'add.csv', 'sdn_comments.csv']) await copyFile(join(OFAC, n), join(dir, n))
  await copyFile(join(FIX, 'sdn.xml'), join(dir, 'sdn.xml'))
  await writeFile(join(dir, 'broken.xml'), '<CONSOLIDATED_LIST dateGenerated="2026-01-01"><INDIVIDUALS><INDIVIDUAL>')
  const sources = await sourcesOfDir(dir)
  t.same(sources.map((s) => [s.id, s.format]), [[dir.split('/').at(-1), 'ofac-csv'], ['broken.xml', 'auto'], ['sdn.xml', 'auto']])
  const m = new ListManager({ sources, buildIndex: (e) => e, refreshIntervalMs: 0 })
  const report = await m.start()
  t.same(report.failed.map((f) => f.id), ['broken.xml'])
  t.match(report.failed[0]?.error, /broken\.xml: not well-formed XML/)
  t.same(m.current().datasets.map((d) => [d.format, d.records, d.publishedAt]), [['ofac-csv', 68, null], ['ofac-xml', 2, '2024-05-03']])
  t.equal(m.status().find((s) => s.id === 'broken.xml')?.lastError, report.failed[0]?.error)
  await m.close()
})

t.test('SANCTIONS_SOURCES is validated at start with an error naming the bad entry', async (t) => {
  t.same(parseSources('[{"id":"un","format":"un-xml","url":"https://scsanctions.un.org/resources/xml/en/consolidated.xml"}]'),
    [{ id: 'un', format: 'un-xml', url: 'https://scsanctions.un.org/resources/xml/en/consolidated.xml' }])
  const bad = (v: string): string => { try { loadConfig({ SANCTIONS_SOURCES: v }); return 'accepted' } catch (err) { return (err as Error).message } }
  t.match(bad('not json'), /^invalid SANCTIONS_SOURCES: not JSON/)
  t.match(bad('[]'), /non-empty JSON array/)
  t.match(bad('[{"id":"a","format":"auto","path":"/x"},{"id":"eu","format":"eu-xml","path":"/y"}]'), /entry 1 \("eu"\): format: /)
  t.match(bad('[{"id":"a","format":"auto","path":"/x","url":"https://x.test/"}]'), /entry 0 \("a"\): give exactly one of url and path/)
  t.match(bad('[{"id":"a","format":"auto","url":"ftp://x"}]'), /entry 0 \("a"\): url: url must be an http\(s\) URL/)
  t.match(bad('[{"id":"a","format":"auto","path":"/x"},{"id":"a","format":"auto","path":"/y"}]'), /entry 1 \("a"\): duplicate id/)
  t.match(bad('[{"id":"a","format":"auto","path":"/x"}]'), 'accepted')
})
