import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { XMLParser } from 'fast-xml-parser'
import type { DatasetInfo, EntryType, NameKind, SanctionsEntry } from './types.js'

/** A data file that cannot be read as its official format; names the file and, where known, the line. */
export class DataError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'DataError'
  }
}

const MONTHS: Record<string, string> = { jan: '01', feb: '02', mar: '03', apr: '04', may: '05', jun: '06', jul: '07', aug: '08', sep: '09', oct: '10', nov: '11', dec: '12' }

function nullable (v: string | undefined): string | null {
  if (v === undefined) return null
  const t = v.trim()
  return t === '' || t === '-0-' ? null : t
}

/** Reads one OFAC legacy CSV file: no header, CRLF, `"`-quoted, `-0- ` for null, maybe a trailing 0x1A byte. */
function readOfacCsv (text: string, file: string): string[][] {
  // The official sdn.csv ends with an ASCII SUB (0x1A) byte.
  const body = text.replace(new RegExp(`${String.fromCharCode(0x1a)}\\s*$`), '')
  try {
    return parse(body, { relax_column_count: true, skip_empty_lines: true, relax_quotes: true, trim: false }) as string[][]
  } catch (err) {
    throw new DataError(`${file}: ${(err as Error).message}`)
  }
}

export function parseDob (text: string): string | null {
  const t = text.trim()
  let m = /^(\d{1,2}) ([A-Za-z]{3}) (\d{4})$/.exec(t)
  if (m !== null) {
    const month = MONTHS[(m[2] as string).toLowerCase()]
    return month === undefined ? null : `${m[3]}-${month}-${(m[1] as string).padStart(2, '0')}`
  }
  m = /(\d{4})/.exec(t)
  return m === null ? null : m[1] as string
}

/** Facts stated in OFAC remarks: weak aliases, birth dates, nationalities and identifiers. */
export function parseRemarks (remarks: string): { aliases: string[], birthDates: string[], countries: string[], identifiers: Array<{ kind: string, value: string }> } {
  const aliases = [...remarks.matchAll(/a\.k\.a\. '([^']+)'/g)].map((m) => m[1] as string)
  const birthDates: string[] = []
  for (const m of remarks.matchAll(/DOB ([^;]+)/g)) {
    for (const part of (m[1] as string).split(/ to |, /)) {
      const d = parseDob(part.replace(/^circa /i, ''))
      if (d !== null) birthDates.push(d)
    }
  }
  const countries = [...remarks.matchAll(/(?:nationality|citizen) ([A-Za-z ,.'()-]+?)(?:;|\.$|$)/g)].map((m) => (m[1] as string).trim())
  const identifiers: Array<{ kind: string, value: string }> = []
  const add = (kind: string, re: RegExp): void => { for (const m of remarks.matchAll(re)) identifiers.push({ kind, value: (m[1] as string).toUpperCase() }) }
  add('imo', /IMO (\d{7})/g)
  add('mmsi', /MMSI (\d{9})/g)
  add('bic', /SWIFT\/BIC ([A-Z0-9]{8,11})/g)
  add('lei', /Legal Entity Number ([A-Z0-9]{20})/g)
  for (const m of remarks.matchAll(/Digital Currency Address - ([A-Z0-9]+) ([A-Za-z0-9]{20,})/g)) identifiers.push({ kind: `crypto:${m[1] as string}`, value: m[2] as string })
  return { aliases, birthDates, countries, identifiers }
}

function ofacType (raw: string | null): EntryType {
  if (raw === 'individual' || raw === 'vessel' || raw === 'aircraft') return raw
  return 'entity'
}

async function hashFile (path: string): Promise<{ sha256: string, text: string, mtime: Date }> {
  const buf = await readFile(path)
  const s = await stat(path)
  return { sha256: createHash('sha256').update(buf).digest('hex'), text: buf.toString('latin1'), mtime: s.mtime }
}

/** Loads the OFAC SDN list from the legacy CSV files of a folder (`sdn.csv` and, if present, `alt.csv`, `add.csv`, `sdn_comments.csv`). */
export async function loadOfac (dir: string): Promise<{ entries: SanctionsEntry[], dataset: DatasetInfo }> {
  const main = await hashFile(join(dir, 'sdn.csv'))
  const optional = async (name: string): Promise<string[][]> => {
    try {
      return readOfacCsv((await hashFile(join(dir, name))).text, name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }
  const rows = readOfacCsv(main.text, 'sdn.csv')
  const comments = new Map<string, string>()
  for (const r of await optional('sdn_comments.csv')) comments.set(String(r[0]), (comments.get(String(r[0])) ?? '') + (r[1] ?? ''))
  const entries = new Map<string, SanctionsEntry>()
  rows.forEach((r, i) => {
    const id = nullable(r[0])
    const name = nullable(r[1])
    if (id === null || name === null || !/^\d+$/.test(id)) throw new DataError(`sdn.csv line ${i + 1}: expected an ent_num and a name`)
    const remarks = [nullable(r[11]), comments.get(id) ?? null].filter((x) => x !== null).join('')
    const facts = parseRemarks(remarks)
    const programs = (nullable(r[3]) ?? '').replace(/^\[|\]$/g, '').split(/\]\s*\[/).map((p) => p.trim()).filter((p) => p !== '')
    entries.set(id, {
      source: 'OFAC-SDN',
      id,
      name,
      type: ofacType(nullable(r[2])),
      programs,
      countries: [...new Set(facts.countries)],
      birthDates: facts.birthDates,
      aliases: facts.aliases.map((a) => ({ name: a, kind: 'weak' as NameKind })),
      identifiers: facts.identifiers,
      ...(remarks === '' ? {} : { remarks })
    })
  })
  for (const r of await optional('alt.csv')) {
    const entry = entries.get(String(r[0]))
    const alias = nullable(r[3])
    if (entry === undefined || alias === null) continue
    const kind = (nullable(r[2]) ?? 'aka').toLowerCase()
    entry.aliases.push({ name: alias, kind: (['aka', 'fka', 'nka'].includes(kind) ? kind : 'aka') as NameKind })
  }
  for (const r of await optional('add.csv')) {
    const entry = entries.get(String(r[0]))
    const country = nullable(r[4])
    if (entry !== undefined && country !== null && !entry.countries.includes(country)) entry.countries.push(country)
  }
  const dataset: DatasetInfo = { source: 'OFAC-SDN', file: 'sdn.csv', fileDate: main.mtime.toISOString().slice(0, 10), sha256: main.sha256, records: entries.size }
  // OFAC's CSV carries no date: a `dataset.json` beside it may state the publication date (else the file's mtime is used).
  try {
    const meta = JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8')) as { fileDate?: unknown, note?: unknown }
    if (typeof meta.fileDate === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(meta.fileDate)) dataset.fileDate = meta.fileDate
    if (typeof meta.note === 'string') dataset.note = meta.note
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataError(`dataset.json: ${(err as Error).message}`)
  }
  return { entries: [...entries.values()], dataset }
}

type XmlNode = Record<string, unknown>

function list<T = XmlNode> (v: unknown): T[] {
  if (v === undefined || v === null || v === '') return []
  return (Array.isArray(v) ? v : [v]) as T[]
}

function text (v: unknown): string | null {
  if (v === undefined || v === null) return null
  const t = String(typeof v === 'object' ? (v as XmlNode)['#text'] ?? '' : v).trim()
  return t === '' ? null : t
}

/** Loads a UN Security Council consolidated list XML file. */
export async function loadUn (path: string, file: string): Promise<{ entries: SanctionsEntry[], dataset: DatasetInfo }> {
  const f = await hashFile(path)
  const xml = (await readFile(path)).toString('utf8')
  let doc: XmlNode
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, trimValues: true }).parse(xml) as XmlNode
  } catch (err) {
    throw new DataError(`${file}: ${(err as Error).message}`)
  }
  const root = doc.CONSOLIDATED_LIST as XmlNode | undefined
  if (root === undefined) throw new DataError(`${file}: no CONSOLIDATED_LIST root element`)
  const entries: SanctionsEntry[] = []
  const read = (node: XmlNode, type: EntryType, aliasKey: string, addressKey: string): void => {
    const name = ['FIRST_NAME', 'SECOND_NAME', 'THIRD_NAME', 'FOURTH_NAME'].map((k) => text(node[k])).filter((x) => x !== null).join(' ')
    const id = text(node.REFERENCE_NUMBER)
    if (id === null || name === '') throw new DataError(`${file}: an entry lacks REFERENCE_NUMBER or a name (DATAID ${String(text(node.DATAID))})`)
    const aliases = list(node[aliasKey]).map((a) => ({ name: text(a.ALIAS_NAME), kind: (text(a.QUALITY) === 'Low' ? 'weak' : 'aka') as NameKind }))
      .filter((a): a is { name: string, kind: NameKind } => a.name !== null)
    const original = text(node.NAME_ORIGINAL_SCRIPT)
    if (original !== null) aliases.push({ name: original, kind: 'aka' })
    const countries = [
      ...list(node.NATIONALITY).flatMap((n) => list<unknown>(n.VALUE).map(text)),
      ...list(node[addressKey]).map((a) => text(a.COUNTRY))
    ].filter((c): c is string => c !== null)
    const birthDates = list(node.INDIVIDUAL_DATE_OF_BIRTH).map((d) => text(d.DATE) ?? text(d.YEAR) ?? text(d.FROM_YEAR)).filter((d): d is string => d !== null)
    const identifiers = list(node.INDIVIDUAL_DOCUMENT).map((d) => ({ kind: (text(d.TYPE_OF_DOCUMENT) ?? 'document').toLowerCase(), value: text(d.NUMBER) }))
      .filter((d): d is { kind: string, value: string } => d.value !== null)
    const remarks = text(node.COMMENTS1)
    entries.push({
      source: 'UN',
      id,
      name,
      type,
      programs: [text(node.UN_LIST_TYPE) ?? 'UN'],
      countries: [...new Set(countries)],
      birthDates,
      aliases,
      identifiers,
      ...(remarks === null ? {} : { remarks })
    })
  }
  for (const n of list((root.INDIVIDUALS as XmlNode | undefined)?.INDIVIDUAL)) read(n, 'individual', 'INDIVIDUAL_ALIAS', 'INDIVIDUAL_ADDRESS')
  for (const n of list((root.ENTITIES as XmlNode | undefined)?.ENTITY)) read(n, 'entity', 'ENTITY_ALIAS', 'ENTITY_ADDRESS')
  const generated = String(root['@dateGenerated'] ?? '')
  return {
    entries,
    dataset: { source: 'UN', file, fileDate: /^\d{4}-\d{2}-\d{2}/.test(generated) ? generated.slice(0, 10) : f.mtime.toISOString().slice(0, 10), sha256: f.sha256, records: entries.length }
  }
}

/** Loads every list found in a folder: the OFAC CSV set (`sdn.csv`…) and UN XML files, in sub-folders too. */
export async function loadDataDir (dir: string): Promise<{ entries: SanctionsEntry[], datasets: DatasetInfo[] }> {
  const entries: SanctionsEntry[] = []
  const datasets: DatasetInfo[] = []
  const walk = async (d: string, depth: number): Promise<void> => {
    let names: string[]
    try {
      names = (await readdir(d)).sort()
    } catch (err) {
      throw new DataError(`cannot read ${d} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    if (names.includes('sdn.csv')) {
      const r = await loadOfac(d)
      entries.push(...r.entries)
      datasets.push(r.dataset)
    }
    for (const name of names) {
      const path = join(d, name)
      if (name.toLowerCase().endsWith('.xml')) {
        const r = await loadUn(path, name)
        entries.push(...r.entries)
        datasets.push(r.dataset)
      } else if (depth < 2 && (await stat(path)).isDirectory()) {
        await walk(path, depth + 1)
      }
    }
  }
  await walk(dir, 0)
  if (entries.length === 0) throw new DataError(`no sanctions list (sdn.csv or a UN .xml file) found in ${dir}`)
  return { entries, datasets }
}
