import anyAscii from 'any-ascii'
import { doubleMetaphone } from 'double-metaphone'
import { jaroWinkler } from '@skyra/jaro-winkler'
import type { EntryType, NameKind, SanctionsEntry } from './types.js'

/** The matching algorithm, named in every answer. */
export const ALGORITHM = {
  name: 'token-jaro-winkler+double-metaphone',
  version: '1',
  description: 'ASCII folding (any-ascii), legal-form and particle removal, order-free token assignment scored with Jaro-Winkler, ' +
    'Double Metaphone rescue for transliteration variants, penalties for unmatched and single-token matches, ' +
    'birth date and country adjustments, exact identifier matches (IMO, MMSI, BIC, LEI, digital currency addresses).'
} as const

/**
 * Default score threshold. Chosen on the shipped samples: spelling variants of listed names
 * (QADHAFI/GADDAFI, SERGEI/SERGEY, HIZBALLAH/HEZBOLLAH, reordered names, legal-form variants) score
 * ≥ 0.88, while everyday names ("John Smith", "Maria Garcia", "Acme Widgets Ltd") stay below 0.80.
 */
export const DEFAULT_THRESHOLD = 0.85

const LEGAL_FORMS = new Set([
  'llc', 'ltd', 'limited', 'co', 'company', 'corp', 'corporation', 'inc', 'incorporated', 'plc', 'sa', 'sas', 'sarl', 'srl', 'spa',
  'ag', 'gmbh', 'kg', 'bv', 'nv', 'pjsc', 'ojsc', 'cjsc', 'jsc', 'pao', 'oao', 'zao', 'ooo', 'ao', 'fzco', 'fze', 'llp', 'lp',
  'pte', 'pty', 'bhd', 'sdn', 'ltda', 'cia', 'kk', 'oy', 'ab', 'as', 'asa', 'sal', 'wll', 'est', 'group', 'holding', 'holdings'
])
const PARTICLES = new Set(['the', 'of', 'and', 'de', 'del', 'la', 'le', 'el', 'al', 'da', 'do', 'dos', 'das', 'di', 'du', 'von', 'van', 'der', 'den', 'y', 'e', 'for'])

/** Folds a name to lowercase ASCII tokens: transliterated, without punctuation, legal forms or particles. */
export function nameTokens (name: string): string[] {
  const folded = anyAscii(name.normalize('NFKC')).toLowerCase().replace(/['’‘`´]/g, '').replace(/[^a-z0-9]+/g, ' ')
  const all = folded.split(' ').filter((t) => t !== '')
  const kept = all.filter((t) => !LEGAL_FORMS.has(t) && !PARTICLES.has(t))
  return kept.length > 0 ? kept : all
}

function phonetic (token: string): string[] {
  if (/^\d+$/.test(token)) return [token]
  const [a, b] = doubleMetaphone(token)
  return a === b ? [a] : [a, b]
}

interface NameRecord {
  entry: number
  name: string
  kind: NameKind
  tokens: string[]
  codes: string[][]
  weight: number
}

export interface ScreenQuery {
  name: string
  type?: EntryType | undefined
  birthDate?: string | undefined
  country?: string | undefined
  threshold?: number | undefined
  limit?: number | undefined
}

export interface ScreeningHit {
  source: string
  id: string
  name: string
  matchedName: string
  matchedNameKind: NameKind | 'identifier'
  score: number
  type: EntryType
  programs: string[]
  countries: string[]
  remarks?: string
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000
const tokenWeight = (t: string): number => Math.min(t.length, 8)

/** Similarity of two tokens: Jaro-Winkler, raised to 0.9 when their Double Metaphone codes agree. */
function tokenSimilarity (a: string, b: string, ca: string[], cb: string[]): number {
  if (a === b) return 1
  let s = jaroWinkler(a, b)
  if (s < 0.9 && a.length > 2 && b.length > 2 && ca.some((c) => c !== '' && cb.includes(c))) s = 0.9
  return s
}

/**
 * Scores a query name against a listed name, independent of word order: each query token is paired
 * with the best remaining listed token (greedy on the best pairs first).
 */
function nameScore (q: string[], qc: string[][], c: NameRecord): number {
  const pairs: Array<{ s: number, i: number, j: number }> = []
  for (let i = 0; i < q.length; i++) {
    for (let j = 0; j < c.tokens.length; j++) {
      pairs.push({ s: tokenSimilarity(q[i] as string, c.tokens[j] as string, qc[i] as string[], c.codes[j] as string[]), i, j })
    }
  }
  pairs.sort((x, y) => y.s - x.s)
  const usedQ = new Set<number>()
  const usedC = new Set<number>()
  let matched = 0
  let qWeight = 0
  for (const t of q) qWeight += tokenWeight(t)
  for (const p of pairs) {
    if (usedQ.has(p.i) || usedC.has(p.j)) continue
    usedQ.add(p.i)
    usedC.add(p.j)
    // Below 0.8 two name tokens are different names: no partial credit.
    if (p.s >= 0.8) matched += p.s * tokenWeight(q[p.i] as string)
  }
  let score = matched / qWeight
  let unmatched = 0
  c.tokens.forEach((t, j) => { if (!usedC.has(j)) unmatched += tokenWeight(t) })
  score *= 1 - 0.12 * (unmatched / c.weight)
  if (q.length === 1 && c.tokens.length > 1) score *= 0.88
  return score
}

function birthAdjustment (query: string | undefined, listed: string[]): number {
  if (query === undefined || listed.length === 0) return 0
  const qYear = query.slice(0, 4)
  if (listed.includes(query)) return 0.05
  if (listed.some((d) => d.slice(0, 4) === qYear)) return 0.02
  if (listed.every((d) => Math.abs(Number(d.slice(0, 4)) - Number(qYear)) > 2)) return -0.15
  return 0
}

function countryAdjustment (query: string | undefined, countries: string[], matches: (a: string, b: string) => boolean): number {
  if (query === undefined || countries.length === 0) return 0
  return countries.some((c) => matches(query, c)) ? 0.03 : -0.05
}

function normalizeIdentifier (s: string): string {
  return s.replace(/^(imo|mmsi|swift\/bic|bic|lei)\s*/i, '').replace(/[\s-]/g, '').toUpperCase()
}

/** A screening index over loaded list entries; build once, query many times. */
export class ScreeningIndex {
  readonly #entries: SanctionsEntry[]
  readonly #names: NameRecord[] = []
  readonly #postings = new Map<string, number[]>()
  readonly #identifiers = new Map<string, Array<{ entry: number, kind: string, value: string }>>()
  readonly #byId = new Map<string, SanctionsEntry>()
  readonly #countryMatches: (a: string, b: string) => boolean

  constructor (entries: SanctionsEntry[], options: { countryMatches?: (query: string, listed: string) => boolean } = {}) {
    this.#entries = entries
    this.#countryMatches = options.countryMatches ?? ((a, b) => a.toLowerCase() === b.toLowerCase())
    entries.forEach((e, entry) => {
      this.#byId.set(`${e.source}:${e.id}`, e)
      const names = [{ name: e.name, kind: 'primary' as NameKind }, ...e.aliases]
      for (const n of names) {
        const tokens = nameTokens(n.name)
        if (tokens.length === 0) continue
        const record: NameRecord = { entry, name: n.name, kind: n.kind, tokens, codes: tokens.map(phonetic), weight: tokens.reduce((s, t) => s + tokenWeight(t), 0) }
        const id = this.#names.push(record) - 1
        const keys = new Set<string>()
        record.tokens.forEach((t, i) => {
          keys.add(`t:${t}`)
          if (t.length >= 4) keys.add(`p:${t.slice(0, 4)}`)
          for (const code of record.codes[i] as string[]) if (code !== '') keys.add(`m:${code}`)
        })
        for (const k of keys) {
          let list = this.#postings.get(k)
          if (list === undefined) this.#postings.set(k, list = [])
          list.push(id)
        }
      }
      for (const ident of e.identifiers) {
        const key = normalizeIdentifier(ident.value)
        let list = this.#identifiers.get(key)
        if (list === undefined) this.#identifiers.set(key, list = [])
        list.push({ entry, ...ident })
      }
    })
  }

  /** Number of list entries. */
  get size (): number { return this.#entries.length }

  /** Number of indexed names (primary names and aliases). */
  get nameCount (): number { return this.#names.length }

  getEntry (source: string, id: string): SanctionsEntry | undefined {
    return this.#byId.get(`${source}:${id}`)
  }

  #hit (entry: SanctionsEntry, matchedName: string, kind: ScreeningHit['matchedNameKind'], score: number): ScreeningHit {
    const hit: ScreeningHit = { source: entry.source, id: entry.id, name: entry.name, matchedName, matchedNameKind: kind, score: round3(score), type: entry.type, programs: entry.programs, countries: entry.countries }
    if (entry.remarks !== undefined) hit.remarks = entry.remarks
    return hit
  }

  /** Hits ranked by score, one per entry (its best-matching name). */
  screen (query: ScreenQuery): ScreeningHit[] {
    const threshold = query.threshold ?? DEFAULT_THRESHOLD
    const limit = query.limit ?? 10
    const best = new Map<number, ScreeningHit>()
    const keep = (entry: number, hit: ScreeningHit): void => {
      const prev = best.get(entry)
      if (prev === undefined || prev.score < hit.score) best.set(entry, hit)
    }
    for (const ident of this.#identifiers.get(normalizeIdentifier(query.name)) ?? []) {
      const e = this.#entries[ident.entry] as SanctionsEntry
      if (query.type === undefined || e.type === query.type) keep(ident.entry, this.#hit(e, `${ident.kind.toUpperCase()} ${ident.value}`, 'identifier', 1))
    }
    const q = nameTokens(query.name)
    if (q.length > 0) {
      const qc = q.map(phonetic)
      // Which query tokens reach each candidate name through a shared key (exact token, 4-letter
      // prefix, phonetic code). A token that shares no key scores below 0.8 and earns nothing, so the
      // weight of the tokens that reach a candidate bounds its score: skip those that cannot pass.
      const reach = new Map<number, number>()
      q.forEach((t, i) => {
        const bit = 1 << Math.min(i, 30)
        for (const k of [`t:${t}`, ...(t.length >= 4 ? [`p:${t.slice(0, 4)}`] : []), ...(qc[i] as string[]).filter((c) => c !== '').map((c) => `m:${c}`)]) {
          for (const id of this.#postings.get(k) ?? []) reach.set(id, (reach.get(id) ?? 0) | bit)
        }
      })
      const qWeight = q.reduce((sum, t) => sum + tokenWeight(t), 0)
      const candidates: number[] = []
      for (const [id, mask] of reach) {
        let w = 0
        q.forEach((t, i) => { if ((mask & (1 << Math.min(i, 30))) !== 0) w += tokenWeight(t) })
        if (w / qWeight + 0.08 >= threshold) candidates.push(id)
      }
      for (const id of candidates) {
        const record = this.#names[id] as NameRecord
        const e = this.#entries[record.entry] as SanctionsEntry
        if (query.type !== undefined && e.type !== query.type) continue
        let score = nameScore(q, qc, record)
        if (score < threshold - 0.2) continue
        if (e.type === 'individual') score += birthAdjustment(query.birthDate, e.birthDates)
        score += countryAdjustment(query.country, e.countries, this.#countryMatches)
        if (record.kind === 'weak') score -= 0.03
        score = Math.max(0, Math.min(1, score))
        if (score >= threshold) keep(record.entry, this.#hit(e, record.name, record.kind, score))
      }
    }
    return [...best.values()].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, limit)
  }
}
