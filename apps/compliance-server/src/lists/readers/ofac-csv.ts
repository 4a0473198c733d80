import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { parse } from 'csv-parse'
import type { NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { ofacType, parseRemarks, uniq } from './ofac-common.js'

/** The two legacy CSV sets OFAC publishes: the SDN list and the consolidated (non-SDN) lists. */
export const OFAC_CSV_SETS = [
  { source: 'OFAC-SDN', main: 'sdn.csv', alt: 'alt.csv', add: 'add.csv', comments: 'sdn_comments.csv' },
  { source: 'OFAC-CONS', main: 'cons_prim.csv', alt: 'cons_alt.csv', add: 'cons_add.csv', comments: 'cons_comments.csv' }
] as const
export const OFAC_CSV_FILES: readonly string[] = OFAC_CSV_SETS.flatMap((s) => [s.main, s.alt, s.add, s.comments])

function nullable (v: string | undefined): string | null {
  if (v === undefined) return null
  const t = v.trim()
  return t === '' || t === '-0-' ? null : t
}

/** Streams one OFAC legacy CSV file: no header, CRLF, `"`-quoted, `-0- ` for null, a trailing 0x1A byte. */
async function rows (file: ListFile, onRow: (r: string[], line: number) => void): Promise<void> {
  let end = file.bytes.length
  while (end > 0 && (file.bytes[end - 1] === 0x1a || file.bytes[end - 1] === 0x0a || file.bytes[end - 1] === 0x0d || file.bytes[end - 1] === 0x20)) end--
  const bytes = file.bytes.subarray(0, end)
  // Small chunks and a yield every few milliseconds: the parser works through a chunk in one go, and
  // a refresh must not hold up the screenings the serving version is answering.
  const CHUNK = 32 * 1024
  function * chunks (): Generator<Buffer> { for (let at = 0; at < bytes.length; at += CHUNK) yield bytes.subarray(at, at + CHUNK) }
  let failure: unknown = null
  try {
    await pipeline(
      Readable.from(chunks()),
      parse({ relax_column_count: true, skip_empty_lines: true, relax_quotes: true, encoding: 'latin1' }),
      async function (records: AsyncIterable<string[]>) {
        let n = 0
        let since = performance.now()
        for await (const r of records) {
          try {
            onRow(r, ++n)
          } catch (err) {
            failure = err
            throw err
          }
          if (performance.now() - since > 4) {
            await yieldToLoop()
            since = performance.now()
          }
        }
      }
    )
  } catch (err) {
    // pipeline reports an abort when the consumer stops; the reason is the row it refused
    if (failure !== null) throw failure
    throw new DataError(`${file.name}: ${(err as Error).message}; expected an OFAC legacy CSV file`)
  }
}

/**
 * Reads the OFAC legacy CSV sets among `files` (`sdn.csv` with `alt.csv`, `add.csv`, `sdn_comments.csv`;
 * `cons_prim.csv` with its own three). The CSV files carry no publication date: `publishedAt` is `null`.
 */
export async function readOfacCsv (files: ListFile[]): Promise<ReadResult[]> {
  const byName = new Map(files.map((f) => [f.name.toLowerCase(), f]))
  const results: ReadResult[] = []
  for (const set of OFAC_CSV_SETS) {
    const main = byName.get(set.main)
    if (main === undefined) continue
    const comments = new Map<string, string>()
    const c = byName.get(set.comments)
    if (c !== undefined) await rows(c, (r) => { comments.set(String(r[0]), (comments.get(String(r[0])) ?? '') + (r[1] ?? '')) })
    const entries = new Map<string, SanctionsEntry>()
    await rows(main, (r, line) => {
      const id = nullable(r[0])
      const name = nullable(r[1])
      if (id === null || name === null || !/^\d+$/.test(id)) throw new DataError(`${main.name} line ${line}: expected an ent_num and a name (OFAC legacy CSV)`)
      const remarks = [nullable(r[11]), comments.get(id) ?? null].filter((x) => x !== null).join('')
      const facts = parseRemarks(remarks)
      const programs = (nullable(r[3]) ?? '').replace(/^\[|\]$/g, '').split(/\]\s*\[/).map((p) => p.trim()).filter((p) => p !== '')
      entries.set(id, {
        source: set.source,
        id,
        name,
        type: ofacType(nullable(r[2])),
        programs,
        countries: uniq(facts.countries),
        birthDates: facts.birthDates,
        aliases: facts.aliases.map((a) => ({ name: a, kind: 'weak' as NameKind })),
        identifiers: facts.identifiers,
        ...(remarks === '' ? {} : { remarks })
      })
    })
    const alt = byName.get(set.alt)
    if (alt !== undefined) {
      await rows(alt, (r) => {
        const entry = entries.get(String(r[0]))
        const alias = nullable(r[3])
        if (entry === undefined || alias === null) return
        const kind = (nullable(r[2]) ?? 'aka').toLowerCase()
        entry.aliases.push({ name: alias, kind: (['aka', 'fka', 'nka'].includes(kind) ? kind : 'aka') as NameKind })
      })
    }
    const add = byName.get(set.add)
    if (add !== undefined) {
      await rows(add, (r) => {
        const entry = entries.get(String(r[0]))
        const country = nullable(r[4])
        if (entry !== undefined && country !== null && !entry.countries.includes(country)) entry.countries.push(country)
      })
    }
    results.push({ source: set.source, format: 'ofac-csv', entries: [...entries.values()], publishedAt: null })
  }
  if (results.length === 0) throw new DataError(`${files.map((f) => f.name).join(', ') || 'no file'}: expected the OFAC legacy CSV set (sdn.csv or cons_prim.csv)`)
  return results
}
