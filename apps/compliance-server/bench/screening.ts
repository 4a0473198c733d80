// Screening benchmark over a full list: `node dist/domain/bench-screening.js <data dir> [queries]`.
// Prints index build time, index heap, and per-query median and p99 latency.
import { performance } from 'node:perf_hooks'
import { loadDataDir } from '../src/domain/loaders.js'
import { ScreeningIndex } from '../src/screening/index.js'
import { sameCountry } from '../src/domain/countries.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: bench-screening <data dir> [queries]')
const n = Number(process.argv[3] ?? 2000)
const gc = (globalThis as { gc?: () => void }).gc
const { entries, datasets } = await loadDataDir(dir)
gc?.()
const heap0 = process.memoryUsage().heapUsed
const t0 = performance.now()
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
const buildMs = performance.now() - t0
gc?.()
const heap1 = process.memoryUsage().heapUsed

// Queries: listed names with perturbations (reordered, a letter changed) and everyday names that should not hit.
const clean = ['John Smith', 'Maria Garcia', 'Acme Widgets Ltd', 'Robert Johnson', 'Anna Schmidt', 'Blue River Logistics', 'Chen Wei', 'Fatima Hassan']
let seed = 42
const rand = (k: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % k }
const queries: string[] = []
for (let i = 0; i < n; i++) {
  if (i % 4 === 0) { queries.push(clean[rand(clean.length)] as string); continue }
  const e = entries[rand(entries.length)]
  const parts = (e?.name ?? 'x').replace(/,/g, '').split(' ')
  if (i % 4 === 1) parts.reverse()
  let q = parts.join(' ')
  if (i % 4 === 2 && q.length > 4) { const p = 1 + rand(q.length - 2); q = q.slice(0, p) + 'e' + q.slice(p + 1) }
  queries.push(q)
}
for (const q of queries.slice(0, 200)) index.screen({ name: q })
const times: number[] = []
let hits = 0
for (const q of queries) {
  const t = performance.now()
  hits += index.screen({ name: q }).length
  times.push(performance.now() - t)
}
times.sort((a, b) => a - b)
const pct = (p: number): string => (times[Math.min(times.length - 1, Math.floor(times.length * p))] as number).toFixed(3)
console.log(JSON.stringify({
  datasets: datasets.map((d) => `${d.source} ${d.file} ${d.fileDate} (${d.records} records)`),
  entries: index.size,
  names: index.nameCount,
  buildMs: Math.round(buildMs),
  indexHeapMiB: Math.round((heap1 - heap0) / 2 ** 20 * 10) / 10,
  queries: n,
  medianMs: pct(0.5),
  p99Ms: pct(0.99),
  hitsPerQuery: Math.round(hits / n * 100) / 100
}, null, 2))
