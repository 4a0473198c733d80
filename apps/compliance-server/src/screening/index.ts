import type { EntryType, NameKind, SanctionsEntry } from '../domain/types.js'
import { extractIdentifiers, kindFamily, normalizeIdentifier } from './identifiers.js'
import { tokenize } from './normalize.js'
import { countTokens, phoneticCodes, scoreName, similarityUpperBound, tokenSimilarity, TokenWeights, TOKEN_FLOOR, type NameForm, type NameFactor, type TokenPair } from './scorer.js'

export { extractIdentifiers, normalizeIdentifier } from './identifiers.js'

/** The matching algorithm, named in every answer. */
export const ALGORITHM = {
  name: 'weighted-token-jaro-winkler',
  version: '2',
  description: 'ASCII folding (any-ascii); order-free greedy token pairing scored with Jaro-Winkler plus a bounded Double Metaphone bonus; ' +
    'token weights from their rarity on the list (legal forms and particles near zero); factors for unmatched listed tokens and one-token queries; ' +
    'visible adjustments for birth date, country, nationality, type and weak aliases; matching identifiers are decisive. ' +
    'Candidates come from a token index pruned only by a proven score upper bound, so results equal a full scan.'
} as const

/** Default threshold, calibrated by `bench/evaluate-screening.ts` (see the README). */
export const DEFAULT_THRESHOLD = 0.88

export const ADJUSTMENT = {
  birthDateExact: 0.05,
  birthYear: 0.02,
  birthDateContradicts: -0.15,
  countryAgrees: 0.03,
  countryContradicts: -0.05,
  nationalityAgrees: 0.03,
  nationalityContradicts: -0.05,
  typeContradicts: -0.25,
  weakAlias: -0.03
} as const

export type WeakAliasPolicy = 'excluded' | 'included'
export type MatchedNameKind = NameKind | 'original_script' | 'identifier'

export interface ScreenQuery {
  name: string
  type?: EntryType | undefined
  birthDate?: string | undefined
  country?: string | undefined
  nationality?: string | undefined
  identifiers?: Array<{ kind: string, value: string }> | undefined
  programs?: string[] | undefined
  sources?: string[] | undefined
  includeWeakAliases?: boolean | undefined
  threshold?: number | undefined
  limit?: number | undefined
}

export interface Adjustment {
  reason: 'birth_date' | 'country' | 'nationality' | 'type' | 'weak_alias' | 'identifier'
  delta: number
  detail: string
}

export interface Explanation {
  matchedName: string
  matchedNameKind: MatchedNameKind
  /** One per query token: the listed token it was paired with, its similarity, weight and credit. */
  tokens: TokenPair[]
  unmatchedListedTokens: string[]
  /** Σ credit·weight / Σ weight over the query tokens. */
  tokenScore: number
  /** Multiplied into tokenScore to give nameScore. */
  factors: NameFactor[]
  nameScore: number
  adjustments: Adjustment[]
  /** clamp(nameScore + Σ delta, 0, 1), rounded to 3 decimals. */
  score: number
}

export interface ScreeningHit {
  source: string
  id: string
  name: string
  matchedName: string
  matchedNameKind: MatchedNameKind
  score: number
  type: EntryType
  programs: string[]
  countries: string[]
  remarks?: string
  explanation: Explanation
}

interface NameRecord extends NameForm {
  entry: number
  name: string
  kind: NameKind | 'original_script'
}

interface IdRecord { entry: number, kind: string, value: string }

const round3 = (x: number): number => Math.round(x * 1000) / 1000
const CHARS = 36
/** Token lengths up to this one have their shared-character bound in a table. */
const MAX_LEN = 64
/** Query tokens whose similar listed tokens are remembered (about 16 bytes a remembered id). */
const SIMILAR_CACHE = 20_000

/** The fewest characters `la`- and `lb`-long tokens must share for `similarityUpperBound` to reach TOKEN_FLOOR (it grows with them); min(la, lb) + 1 when none is enough. */
function minSharedFor (la: number, lb: number): number {
  const most = Math.min(la, lb)
  for (let s = 0; s <= most; s++) if (similarityUpperBound(la, lb, s) >= TOKEN_FLOOR) return s
  return most + 1
}

function charFrequency (vocabCounts: Uint8Array, vocab: number): Uint32Array {
  const f = new Uint32Array(CHARS)
  for (let v = 0; v < vocab; v++) for (let c = 0; c < CHARS; c++) if ((vocabCounts[v * CHARS + c] as number) > 0) f[c] = (f[c] as number) + 1
  return f
}
const charCode = (ch: number): number => ch >= 97 ? ch - 97 : ch - 48 + 26

/** Turns a query's token list into a weighted form. */
function form (tokens: string[], weights: TokenWeights): NameForm {
  return { tokens, weights: tokens.map((t) => weights.weight(t)), codes: tokens.map(phoneticCodes) }
}

/** Highest positive adjustment a query can earn: the bound's slack. */
function maxBonus (q: ScreenQuery): number {
  let b = 0
  if (q.birthDate !== undefined) b += ADJUSTMENT.birthDateExact
  if (q.country !== undefined) b += ADJUSTMENT.countryAgrees
  if (q.nationality !== undefined) b += ADJUSTMENT.nationalityAgrees
  return b
}

/** A screening index over loaded list entries; build once, query many times. */
export class ScreeningIndex {
  readonly #entries: SanctionsEntry[]
  readonly #names: NameRecord[] = []
  #weights!: TokenWeights
  readonly #vocab: string[] = []
  readonly #vocabCodes: string[][] = []
  #vocabCounts!: Uint8Array
  readonly #byLength: number[][] = []
  readonly #postings: number[][] = []
  readonly #identifiers = new Map<string, IdRecord[]>()
  readonly #entryIdentifiers: Array<Array<{ kind: string, value: string }>> = []
  readonly #byId = new Map<string, SanctionsEntry>()
  readonly #countryMatches: (a: string, b: string) => boolean

  constructor (entries: SanctionsEntry[], options: { countryMatches?: (query: string, listed: string) => boolean } = {}, build = true) {
    this.#entries = entries
    this.#countryMatches = options.countryMatches ?? ((a, b) => a.toLowerCase() === b.toLowerCase())
    if (build) for (const _ of this.#steps()) { /* all at once */ }
  }

  /**
   * The same index, built in slices of about `sliceMs` of work with the event loop free between them,
   * so that queries on the serving index keep being answered while a new list version is indexed.
   */
  static async build (entries: SanctionsEntry[], options: { countryMatches?: (query: string, listed: string) => boolean } = {}, sliceMs = 4): Promise<ScreeningIndex> {
    const index = new ScreeningIndex(entries, options, false)
    let since = performance.now()
    for (const _ of index.#steps()) {
      if (performance.now() - since < sliceMs) continue
      await new Promise((resolve) => setImmediate(resolve))
      since = performance.now()
    }
    return index
  }

  /** Builds the index; yields after each unit of work (an entry, a name, a token), where a slice may end. */
  * #steps (): Generator<void> {
    const entries = this.#entries
    const raw: Array<{ entry: number, name: string, kind: NameRecord['kind'], tokens: string[] }> = []
    for (let entry = 0; entry < entries.length; entry++) {
      const e = entries[entry] as SanctionsEntry
      this.#byId.set(`${e.source}:${e.id}`, e)
      for (const n of [{ name: e.name, kind: 'primary' as NameRecord['kind'] }, ...e.aliases]) {
        const tokens = tokenize(n.name)
        if (tokens.length > 0) raw.push({ entry, name: n.name, kind: n.kind, tokens })
      }
      const ids = [...e.identifiers]
      if (e.remarks !== undefined) {
        for (const x of extractIdentifiers(e.remarks)) {
          if (!ids.some((i) => kindFamily(i.kind) === kindFamily(x.kind) && normalizeIdentifier(i.value, i.kind) === normalizeIdentifier(x.value, x.kind))) ids.push({ kind: x.kind, value: x.value })
        }
      }
      this.#entryIdentifiers.push(ids)
      for (const ident of ids) {
        const key = `${kindFamily(ident.kind)}:${normalizeIdentifier(ident.value, ident.kind)}`
        let list = this.#identifiers.get(key)
        if (list === undefined) this.#identifiers.set(key, list = [])
        list.push({ entry, ...ident })
      }
      yield
    }
    const df = new Map<string, number>()
    for (let i = 0; i < raw.length; i++) {
      countTokens(df, (raw[i] as { tokens: string[] }).tokens)
      if (i % 16 === 15) yield
    }
    this.#weights = new TokenWeights({ df, names: raw.length })
    yield
    const vocabId = new Map<string, number>()
    for (const r of raw) {
      const f = form(r.tokens, this.#weights)
      const id = this.#names.push({ ...f, entry: r.entry, name: r.name, kind: r.kind }) - 1
      for (const t of new Set(r.tokens)) {
        let v = vocabId.get(t)
        if (v === undefined) {
          v = this.#vocab.push(t) - 1
          vocabId.set(t, v)
          this.#vocabCodes.push(phoneticCodes(t))
          this.#postings.push([])
          ;(this.#byLength[t.length] ??= []).push(v)
        }
        this.#postings[v]?.push(id)
      }
      yield
    }
    this.#vocabCounts = new Uint8Array(this.#vocab.length * CHARS)
    for (let v = 0; v < this.#vocab.length; v++) {
      const t = this.#vocab[v] as string
      for (let k = 0; k < t.length; k++) {
        const c = v * CHARS + charCode(t.charCodeAt(k))
        this.#vocabCounts[c] = Math.min(255, (this.#vocabCounts[c] as number) + 1)
      }
      if (v % 64 === 63) yield
    }
  }

  /** Number of list entries. */
  get size (): number { return this.#entries.length }

  /** Number of indexed names (primary names and aliases). */
  get nameCount (): number { return this.#names.length }

  getEntry (source: string, id: string): SanctionsEntry | undefined {
    return this.#byId.get(`${source}:${id}`)
  }

  /** Identifiers of an entry as screened: the list's own and those extracted from its remarks. */
  identifiersOf (source: string, id: string): Array<{ kind: string, value: string }> {
    const e = this.#byId.get(`${source}:${id}`)
    return e === undefined ? [] : this.#entryIdentifiers[this.#entries.indexOf(e)] ?? []
  }

  /** Listed tokens similar to a query token, for the tokens asked most recently (the index never changes). */
  readonly #similarCache = new Map<string, number[]>()
  /** `#minShared[la * MAX_LEN + lb]`: the fewest shared characters for which the bound can reach TOKEN_FLOOR (0: not computed; > min(la, lb): never). */
  readonly #minShared = new Uint8Array(MAX_LEN * MAX_LEN)
  /** How many listed tokens hold each character: the rarest are compared first, so a hopeless token is left soonest. */
  #charFrequency: Uint32Array | null = null

  #need (la: number, lb: number): number {
    if (la >= MAX_LEN || lb >= MAX_LEN) return minSharedFor(la, lb)
    const k = la * MAX_LEN + lb
    let v = this.#minShared[k] as number
    if (v === 0) this.#minShared[k] = v = minSharedFor(la, lb) + 1
    return v - 1
  }

  /** Every listed token whose similarity to `q` reaches TOKEN_FLOOR (exact: pruned only by a proven upper bound). */
  #similarTokens (q: string, codes: string[]): number[] {
    const cached = this.#similarCache.get(q)
    if (cached !== undefined) {
      this.#similarCache.delete(q)
      this.#similarCache.set(q, cached)
      return cached
    }
    const out = this.#scanSimilar(q, codes)
    if (this.#similarCache.size >= SIMILAR_CACHE) this.#similarCache.delete(this.#similarCache.keys().next().value as string)
    this.#similarCache.set(q, out)
    return out
  }

  #scanSimilar (q: string, codes: string[]): number[] {
    const counts = new Uint8Array(CHARS)
    const distinct: number[] = []
    for (let k = 0; k < q.length; k++) {
      const c = charCode(q.charCodeAt(k))
      if (counts[c] === 0) distinct.push(c)
      counts[c] = (counts[c] as number) + 1
    }
    const freq = this.#charFrequency ??= charFrequency(this.#vocabCounts, this.#vocab.length)
    distinct.sort((a, b) => (freq[a] as number) - (freq[b] as number))
    // rest[i]: the most the characters from i on can still add.
    const rest = new Array<number>(distinct.length + 1).fill(0)
    for (let i = distinct.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] as number) + (counts[distinct[i] as number] as number)
    const vocabCounts = this.#vocabCounts
    const out: number[] = []
    for (let lv = 0; lv < this.#byLength.length; lv++) {
      const bucket = this.#byLength[lv]
      if (bucket === undefined) continue
      const need = this.#need(q.length, lv)
      if (need > Math.min(q.length, lv)) continue
      for (const v of bucket) {
        const base = v * CHARS
        let shared = 0
        for (let i = 0; i < distinct.length; i++) {
          const c = distinct[i] as number
          const have = vocabCounts[base + c] as number
          const want = counts[c] as number
          shared += have < want ? have : want
          if (shared + (rest[i + 1] as number) < need) { shared = -1; break }
        }
        if (shared < need) continue
        if (tokenSimilarity(q, this.#vocab[v] as string, codes, this.#vocabCodes[v] as string[]).similarity >= TOKEN_FLOOR) out.push(v)
      }
    }
    return out
  }

  #identifierEntries (q: ScreenQuery): Map<number, IdRecord> {
    const found = new Map<number, IdRecord>()
    const probes: Array<{ kind?: string, value: string }> = [...(q.identifiers ?? [])]
    const bare = q.name.trim()
    if (!/\s/.test(bare.replace(/^(imo|mmsi|bic|lei)\s+/i, ''))) probes.push({ value: bare })
    for (const p of probes) {
      const families = p.kind === undefined ? ['imo', 'mmsi', 'bic', 'lei', 'crypto', 'passport', 'national_id'] : [kindFamily(p.kind)]
      for (const f of families) {
        for (const r of this.#identifiers.get(`${f}:${normalizeIdentifier(p.value, p.kind)}`) ?? []) if (!found.has(r.entry)) found.set(r.entry, r)
      }
    }
    return found
  }

  /** Hits ranked by score, one per entry (its best-scoring name): every entry scoring ≥ threshold, up to limit. */
  screen (query: ScreenQuery): ScreeningHit[] {
    return this.#run(query, false)
  }

  /** The same answer by scoring every indexed name: the oracle the index is tested against. */
  screenBruteForce (query: ScreenQuery): ScreeningHit[] {
    return this.#run(query, true)
  }

  /** The weak-alias policy a query runs under. */
  static weakAliasPolicy (query: { includeWeakAliases?: boolean | undefined }): WeakAliasPolicy {
    return query.includeWeakAliases === true ? 'included' : 'excluded'
  }

  #run (query: ScreenQuery, bruteForce: boolean): ScreeningHit[] {
    const threshold = query.threshold ?? DEFAULT_THRESHOLD
    const limit = query.limit ?? 10
    const q = form(tokenize(query.name), this.#weights)
    const byIdentifier = this.#identifierEntries(query)
    const candidates = new Set<number>()
    const slack = threshold - maxBonus(query)
    if (bruteForce || slack <= 0) {
      for (let id = 0; id < this.#names.length; id++) candidates.add(id)
    } else if (q.tokens.length > 0) {
      const qWeight = q.weights.reduce((a, b) => a + b, 0)
      const reach = new Map<number, number>()
      q.tokens.forEach((t, i) => {
        const w = q.weights[i] as number
        const seen = new Set<number>()
        for (const v of this.#similarTokens(t, q.codes[i] as string[])) {
          for (const id of this.#postings[v] as number[]) {
            if (seen.has(id)) continue
            seen.add(id)
            reach.set(id, (reach.get(id) ?? 0) + w)
          }
        }
      })
      // nameScore ≤ reached weight / query weight (scorer.ts); adjustments add at most maxBonus.
      for (const [id, w] of reach) if (w / qWeight >= slack - 1e-9) candidates.add(id)
    }
    const best = new Map<number, ScreeningHit>()
    const consider = (entry: number, hit: ScreeningHit): void => {
      if (hit.score < threshold) return
      const prev = best.get(entry)
      if (prev === undefined || prev.score < hit.score) best.set(entry, hit)
    }
    const allowed = (e: SanctionsEntry): boolean =>
      (query.sources === undefined || query.sources.includes(e.source)) &&
      (query.programs === undefined || e.programs.some((p) => query.programs?.includes(p)))
    for (const id of [...candidates].sort((a, b) => a - b)) {
      const r = this.#names[id] as NameRecord
      if (r.kind === 'weak' && query.includeWeakAliases !== true) continue
      const e = this.#entries[r.entry] as SanctionsEntry
      if (!allowed(e)) continue
      if (q.tokens.length === 0) continue
      consider(r.entry, this.#hit(e, r, q, query, byIdentifier.get(r.entry)))
    }
    for (const [entry, ident] of byIdentifier) {
      if (best.has(entry)) continue
      const e = this.#entries[entry] as SanctionsEntry
      if (allowed(e)) consider(entry, this.#hit(e, null, q, query, ident))
    }
    return [...best.values()].sort((a, b) => b.score - a.score || a.source.localeCompare(b.source) || a.id.localeCompare(b.id)).slice(0, limit)
  }

  #hit (e: SanctionsEntry, r: NameRecord | null, q: NameForm, query: ScreenQuery, ident: IdRecord | undefined): ScreeningHit {
    const ns = r === null ? { score: 0, pairs: [], unmatchedListed: [], factors: [] } : scoreName(q, r)
    const qWeight = q.weights.reduce((a, b) => a + b, 0)
    const tokenScore = ns.pairs.reduce((s, p) => s + p.credit * p.weight, 0) / (qWeight === 0 ? 1 : qWeight)
    const adjustments: Adjustment[] = []
    if (query.birthDate !== undefined && e.type === 'individual' && e.birthDates.length > 0) {
      const qd = query.birthDate
      const year = qd.slice(0, 4)
      if (qd.length === 10 && e.birthDates.includes(qd)) adjustments.push({ reason: 'birth_date', delta: ADJUSTMENT.birthDateExact, detail: `${qd} listed` })
      else if (e.birthDates.some((d) => d.slice(0, 4) === year)) adjustments.push({ reason: 'birth_date', delta: ADJUSTMENT.birthYear, detail: `year ${year} listed` })
      else if (e.birthDates.every((d) => Math.abs(Number(d.slice(0, 4)) - Number(year)) > 2)) adjustments.push({ reason: 'birth_date', delta: ADJUSTMENT.birthDateContradicts, detail: `${qd} vs listed ${e.birthDates.join(', ')}` })
    }
    if (query.country !== undefined && e.countries.length > 0) {
      const ok = e.countries.some((c) => this.#countryMatches(query.country as string, c))
      adjustments.push({ reason: 'country', delta: ok ? ADJUSTMENT.countryAgrees : ADJUSTMENT.countryContradicts, detail: `${query.country} ${ok ? 'among' : 'not among'} ${e.countries.join(', ')}` })
    }
    const nationalities = e.nationalities ?? e.countries
    if (query.nationality !== undefined && nationalities.length > 0) {
      const ok = nationalities.some((c) => this.#countryMatches(query.nationality as string, c))
      adjustments.push({ reason: 'nationality', delta: ok ? ADJUSTMENT.nationalityAgrees : ADJUSTMENT.nationalityContradicts, detail: `${query.nationality} ${ok ? 'among' : 'not among'} ${nationalities.join(', ')}` })
    }
    if (query.type !== undefined && query.type !== e.type) adjustments.push({ reason: 'type', delta: ADJUSTMENT.typeContradicts, detail: `${query.type} asked, entry is ${e.type}` })
    if (r?.kind === 'weak') adjustments.push({ reason: 'weak_alias', delta: ADJUSTMENT.weakAlias, detail: 'weak alias, included on request' })
    let sum = ns.score
    for (const a of adjustments) sum += a.delta
    if (ident !== undefined) {
      adjustments.push({ reason: 'identifier', delta: 1 - sum, detail: `${ident.kind} ${ident.value} matches (decisive)` })
      sum = 1
    }
    const score = round3(Math.max(0, Math.min(1, sum)))
    const matchedName = r === null ? `${(ident as IdRecord).kind.toUpperCase()} ${(ident as IdRecord).value}` : r.name
    const matchedNameKind: MatchedNameKind = r === null ? 'identifier' : r.kind
    const hit: ScreeningHit = {
      source: e.source,
      id: e.id,
      name: e.name,
      matchedName,
      matchedNameKind,
      score,
      type: e.type,
      programs: e.programs,
      countries: e.countries,
      explanation: { matchedName, matchedNameKind, tokens: ns.pairs, unmatchedListedTokens: ns.unmatchedListed, tokenScore, factors: ns.factors, nameScore: ns.score, adjustments, score }
    }
    if (e.remarks !== undefined) hit.remarks = e.remarks
    return hit
  }
}

/** One line per hit: what matched, how, and what moved the score. */
export function explainLine (h: ScreeningHit): string {
  const x = h.explanation
  const toks = x.tokens.map((p) => `${p.query}~${p.listed ?? '∅'} ${p.credit.toFixed(2)}×${p.weight.toFixed(2)}`).join(', ')
  const adj = x.adjustments.map((a) => `${a.reason} ${a.delta >= 0 ? '+' : ''}${a.delta.toFixed(3)}`).join(', ')
  const fac = x.factors.map((f) => `${f.reason} ×${f.factor.toFixed(3)}`).join(', ')
  return `${h.source} ${h.id} ${h.name}: ${h.score} via ${x.matchedNameKind} "${x.matchedName}" [${toks}]${fac === '' ? '' : ` ${fac}`} name ${x.nameScore.toFixed(3)}${adj === '' ? '' : `; ${adj}`}`
}
