// List refresh benchmark: rebuild + atomic swap of the full 2021 SDN list while screening runs.
// `node --expose-gc bench/lists-swap.mjs [sdn dir] [swaps]` after `pnpm build`.
// Screening requests are issued open-loop every INTERVAL (10) ms; a request's latency runs from when it was due,
// so time the event loop spends blocked by parsing or index building counts against it.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { ListManager } from '../apps/compliance-server/dist/lists/index.js'
import { buildScreeningIndex } from '../apps/compliance-server/dist/services.js'

const src = process.argv[2] ?? new URL('../../shared/data/ofac-sdn-2021/', import.meta.url).pathname
const swaps = Number(process.argv[3] ?? 5)
const INTERVAL = 10
const gc = globalThis.gc ?? (() => {})
const dir = await mkdtemp(join(tmpdir(), 'lists-bench-'))
await cp(src, dir, { recursive: true })
const sdn = await readFile(join(dir, 'sdn.csv'), 'latin1')

const m = new ListManager({ sources: [{ id: 'sdn', format: 'ofac-csv', path: dir }], buildIndex: buildScreeningIndex, refreshIntervalMs: 0, minRatio: 0.5 })
await m.start()
gc(); gc()
const steadyHeap = process.memoryUsage().heapUsed
const steadyRss = process.memoryUsage().rss
const names = ['Banco Nacional de Cuba', 'John Smith', 'Vladimir Putin', 'Acme Widgets Ltd', 'Mahan Air', 'Kim Jong Un', 'Blue River Logistics', 'Hezbollah']

async function measure (work) {
  const latencies = []
  let peakHeap = 0
  let peakRss = 0
  let k = 0
  let running = true
  const t0 = performance.now()
  const tick = () => {
    if (!running) return
    const due = t0 + k * INTERVAL
    k++
    const v = m.current()
    v.index.screen({ name: names[k % names.length] })
    latencies.push(performance.now() - due)
    const mem = process.memoryUsage()
    peakHeap = Math.max(peakHeap, mem.heapUsed)
    peakRss = Math.max(peakRss, mem.rss)
    setTimeout(tick, Math.max(0, t0 + k * INTERVAL - performance.now()))
  }
  tick()
  const start = performance.now()
  await work()
  const ms = performance.now() - start
  running = false
  latencies.sort((a, b) => a - b)
  const p = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]
  return { ms, n: latencies.length, p50: p(0.5), p99: p(0.99), max: latencies.at(-1), peakHeap, peakRss }
}

const rows = []
for (let i = 0; i < swaps; i++) {
  // Each swap is a real change: one entry renamed, so the file is re-read, parsed, indexed and swapped.
  await writeFile(join(dir, 'sdn.csv'), sdn.replace(/^(\d+),"([^"]+)"/, (_, id, name) => `${id},"${name} V${i}"`), 'latin1')
  const before = m.current().id
  const r = await measure(async () => { await m.refresh() })
  if (m.current().id === before) throw new Error('no swap happened')
  rows.push(r)
  gc(); gc()
}
const baseline = await measure(() => new Promise((resolve) => setTimeout(resolve, 1500)))
const mib = (b) => Math.round(b / 2 ** 20)
const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(JSON.stringify({
  list: `${m.current().datasets[0].records} entries (${src})`,
  swaps,
  rebuildAndSwapMs: { median: Math.round(med(rows.map((r) => r.ms))), max: Math.round(Math.max(...rows.map((r) => r.ms))) },
  screeningDuringSwapMs: { p50: +med(rows.map((r) => r.p50)).toFixed(2), p99: +med(rows.map((r) => r.p99)).toFixed(1), max: +Math.max(...rows.map((r) => r.max)).toFixed(1) },
  screeningSteadyMs: { p50: +baseline.p50.toFixed(2), p99: +baseline.p99.toFixed(2) },
  memory: {
    steadyHeapMiB: mib(steadyHeap),
    peakHeapDuringSwapMiB: mib(Math.max(...rows.map((r) => r.peakHeap))),
    heapRatio: +(Math.max(...rows.map((r) => r.peakHeap)) / steadyHeap).toFixed(2),
    steadyRssMiB: mib(steadyRss),
    peakRssDuringSwapMiB: mib(Math.max(...rows.map((r) => r.peakRss)))
  }
}, null, 2))
