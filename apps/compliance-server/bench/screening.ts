// Screening benchmark over a full list, index against the brute-force oracle:
// `node --expose-gc dist-bench/bench/screening.js <data dir> [queries] [file rows]`.
// Prints index build time and heap, per-query median and p99 (index and full scan), a batch of
// 1,000 subjects, and screen-file over a generated customer file.
import { performance } from 'node:perf_hooks'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDataDir } from '../src/domain/loaders.js'
import { sameCountry } from '../src/domain/countries.js'
import { ScreeningIndex, type ScreenQuery } from '../src/screening/index.js'
import { screenFile } from '../src/screen-file.js'
import { EDITS, edit, listedName, prng } from './queries.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: screening <data dir> [queries] [file rows]')
const n = Number(process.argv[3] ?? 2000)
const fileRows = Number(process.argv[4] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
const { entries, datasets } = await loadDataDir(dir)
gc?.()
const heap0 = process.memoryUsage().heapUsed
const t0 = performance.now()
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
const buildMs = performance.now() - t0
gc?.()
const heap1 = process.memoryUsage().heapUsed

const rand = prng(7)
const clean = ['John Smith', 'Maria Garcia', 'Acme Widgets Ltd', 'Robert Johnson', 'Anna Schmidt', 'Blue River Logistics', 'Chen Wei', 'Fatima Hassan']
const queries: ScreenQuery[] = []
for (let i = 0; i < n; i++) {
  if (i % 4 === 0) { queries.push({ name: clean[rand(clean.length)] as string }); continue }
  queries.push({ name: edit(listedName(entries, rand).name, EDITS[rand(EDITS.length)] ?? 'case', rand) })
}
const stats = (run: (q: ScreenQuery) => unknown, qs: ScreenQuery[]): { medianMs: string, p99Ms: string, meanMs: string } => {
  for (const q of qs.slice(0, 50)) run(q)
  const times = qs.map((q) => { const t = performance.now(); run(q); return performance.now() - t }).sort((a, b) => a - b)
  const pct = (p: number): string => (times[Math.min(times.length - 1, Math.floor(times.length * p))] as number).toFixed(3)
  return { medianMs: pct(0.5), p99Ms: pct(0.99), meanMs: (times.reduce((a, b) => a + b, 0) / times.length).toFixed(3) }
}
const indexed = stats((q) => index.screen(q), queries)
const brute = stats((q) => index.screenBruteForce(q), queries.slice(0, Math.min(200, n)))

const batch = queries.slice(0, 1000)
const tb = performance.now()
for (const q of batch) index.screen(q)
const batchMs = performance.now() - tb

const tmp = await mkdtemp(join(tmpdir(), 'bench-screen-'))
const csv = join(tmp, 'customers.csv')
const lines = ['ref,name,type,birthDate,country']
for (let i = 0; i < fileRows; i++) {
  const q = i % 5 === 0 ? edit(listedName(entries, rand).name, 'substitution', rand) : `${clean[rand(clean.length)] as string} ${i}`
  lines.push(`r${i},"${q.replace(/"/g, '""')}",,,`)
}
await writeFile(csv, lines.join('\n') + '\n')
const tf = performance.now()
const file = await screenFile({ input: csv, output: join(tmp, 'out.csv'), dataDir: dir })
const fileMs = performance.now() - tf

console.log(JSON.stringify({
  datasets: datasets.map((d) => `${d.source} ${d.file} ${d.fileDate} (${d.records} records)`),
  entries: index.size,
  names: index.nameCount,
  buildMs: Math.round(buildMs),
  indexHeapMiB: Math.round((heap1 - heap0) / 2 ** 20 * 10) / 10,
  queries: n,
  index: indexed,
  bruteForce: { queries: Math.min(200, n), ...brute },
  batch1000Ms: Math.round(batchMs),
  screenFile: { rows: file.rows, withHits: file.withHits, seconds: Math.round(fileMs / 100) / 10 }
}, null, 2))
