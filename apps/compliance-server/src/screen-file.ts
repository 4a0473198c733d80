// `screen-file IN.csv --out OUT.csv`: screens a customer file against the loaded lists.
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { parse } from 'csv-parse'
import { sameCountry } from './domain/countries.js'
import { loadDataDir } from './domain/loaders.js'
import type { EntryType } from './domain/types.js'
import { DEFAULT_THRESHOLD, ScreeningIndex } from './screening/index.js'

export interface ScreenFileOptions {
  input: string
  output: string
  dataDir: string
  threshold?: number
  /** Where the progress bar goes (stderr in the CLI). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean }
}

const TYPES = new Set(['individual', 'entity', 'vessel', 'aircraft'])
const csvField = (v: string | number): string => { const s = String(v); return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s }

async function countRows (path: string): Promise<number> {
  let n = 0
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) for (const b of chunk) if (b === 10) n++
  return Math.max(0, n - 1)
}

/** Screens every row (header with at least `name`; optional `ref`, `type`, `birthDate`, `country`, `nationality`) and writes one result row per subject. */
export async function screenFile (o: ScreenFileOptions): Promise<{ rows: number, withHits: number }> {
  const { entries } = await loadDataDir(o.dataDir)
  const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
  const total = await countRows(o.input)
  const out = createWriteStream(o.output)
  const write = async (line: string): Promise<void> => { if (!out.write(line)) await once(out, 'drain') }
  await write('ref,name,hits,best_source,best_id,best_name,best_score\n')
  const bar = o.progress
  let shown = -1
  const draw = (done: number): void => {
    if (bar === undefined) return
    const pct = total === 0 ? 100 : Math.floor(done * 100 / total)
    if (pct === shown || (bar.isTTY !== true && pct % 10 !== 0)) return
    shown = pct
    const filled = Math.round(pct / 5)
    bar.write(`${bar.isTTY === true ? '\r' : ''}[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${pct}% ${done}/${total}${bar.isTTY === true ? '' : '\n'}`)
  }
  let rows = 0
  let withHits = 0
  const parser = createReadStream(o.input).pipe(parse({ columns: (h: string[]) => h.map((c) => c.trim()), bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }))
  for await (const record of parser as AsyncIterable<Record<string, string | undefined>>) {
    rows++
    if (rows === 1 && record.name === undefined) throw new Error(`${o.input}: the header has no "name" column`)
    const name = record.name ?? ''
    const ref = record.ref !== undefined && record.ref !== '' ? record.ref : String(rows)
    const opt = (k: string): string | undefined => record[k] === '' ? undefined : record[k]
    const type = opt('type')
    const hits = name === ''
      ? []
      : index.screen({
        name,
        type: type !== undefined && TYPES.has(type) ? type as EntryType : undefined,
        birthDate: opt('birthDate'),
        country: opt('country'),
        nationality: opt('nationality'),
        threshold: o.threshold ?? DEFAULT_THRESHOLD,
        limit: 100
      })
    const best = hits[0]
    if (best !== undefined) withHits++
    await write([ref, name, hits.length, best?.source ?? '', best?.id ?? '', best?.name ?? '', best?.score ?? ''].map(csvField).join(',') + '\n')
    draw(rows)
  }
  draw(total)
  if (bar?.isTTY === true) bar.write('\n')
  out.end()
  await once(out, 'finish')
  return { rows, withHits }
}
