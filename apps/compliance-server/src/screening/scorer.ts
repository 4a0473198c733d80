import { doubleMetaphone } from 'double-metaphone'
import { jaroWinkler } from '@skyra/jaro-winkler'
import { isMinor } from './normalize.js'

/** Token similarities below this earn nothing: two different names, not a spelling variant. */
export const TOKEN_FLOOR = 0.8
/** The most a Double Metaphone agreement adds to the string similarity of two tokens. */
export const PHONETIC_BONUS = 0.04
/** Similarity of an initial ("O") to a given name it starts ("OSAMA"). */
export const INITIAL_SIMILARITY = 0.86
/** Lost per character of length difference beyond the first: IRELAND is not a spelling of IRAN. */
export const LENGTH_PENALTY = 0.05
/** Similarity granted to two tokens of 3+ letters one edit apart (JW is harsh on short tokens and first letters: GAO MAN / GAO YAN). */
export const ONE_EDIT_SIMILARITY = 0.8
/** Weight of legal forms and particles, whatever their frequency. */
export const MINOR_WEIGHT = 0.05
/** Share of the score lost when every listed token is left unmatched (scaled by the unmatched weight). */
export const UNMATCHED_LISTED_PENALTY = 0.15
/** Factor applied when a one-token query meets a multi-token listed name. */
export const SINGLE_TOKEN_FACTOR = 0.9

/** Double Metaphone codes of a token (digits are their own code). */
export function phoneticCodes (token: string): string[] {
  if (token.length < 3 || /\d/.test(token)) return []
  const [a, b] = doubleMetaphone(token)
  return (a === b ? [a] : [a, b]).filter((c) => c !== '')
}

export interface TokenMatch {
  similarity: number
  /** Jaro-Winkler similarity of the folded strings, less the length penalty. */
  string: number
  /** What a phonetic agreement or an initial added. */
  phonetic: number
  initial: boolean
}

/** Whether two strings are at most one substitution, insertion, deletion or adjacent transposition apart. */
export function oneEditApart (a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2)
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1)
}

const lengthPenalty = (la: number, lb: number): number => LENGTH_PENALTY * Math.max(0, Math.abs(la - lb) - 1)

/**
 * Similarity of a query token `a` to a listed token `b`: Jaro-Winkler less a length penalty, plus
 * a bounded phonetic bonus; a one-letter query token (an initial) against a listed name it starts.
 * A one-letter listed token matches only itself (list initials are mostly abbreviations).
 */
export function tokenSimilarity (a: string, b: string, ca: readonly string[], cb: readonly string[]): TokenMatch {
  if (a === b) return { similarity: 1, string: 1, phonetic: 0, initial: false }
  if (a.length === 1 && b.length > 1 && b.startsWith(a)) return { similarity: INITIAL_SIMILARITY, string: 0, phonetic: 0, initial: true }
  if (a.length === 1 || b.length === 1) return { similarity: 0, string: 0, phonetic: 0, initial: false }
  let s = Math.max(0, jaroWinkler(a, b) - lengthPenalty(a.length, b.length))
  if (s < ONE_EDIT_SIMILARITY && a.length >= 3 && b.length >= 3 && oneEditApart(a, b)) s = ONE_EDIT_SIMILARITY
  const bonus = shareCode(ca, cb) ? Math.min(PHONETIC_BONUS, 0.99 - s) : 0
  return { similarity: s + Math.max(0, bonus), string: s, phonetic: Math.max(0, bonus), initial: false }
}

/** Whether two tokens share a phonetic code (a plain loop: this runs for every candidate token pair). */
function shareCode (ca: readonly string[], cb: readonly string[]): boolean {
  for (let i = 0; i < ca.length; i++) {
    for (let j = 0; j < cb.length; j++) if (ca[i] === cb[j]) return true
  }
  return false
}

/**
 * An upper bound of `tokenSimilarity(a, b)` from the lengths and the shared characters alone
 * (`shared` = size of the multiset intersection): Jaro counts at most `shared` matching characters,
 * and the Winkler prefix boost of the library used adds at most half of what is left.
 */
export function similarityUpperBound (la: number, lb: number, shared: number): number {
  if (la === 1) return shared > 0 ? 1 : 0
  if (lb === 1) return 0
  if (shared === 0) return 0
  // One edit apart needs lengths within 1 and all but one character of the longer shared.
  const oneEdit = la >= 3 && lb >= 3 && Math.abs(la - lb) <= 1 && shared >= Math.max(la, lb) - 1 ? ONE_EDIT_SIMILARITY + PHONETIC_BONUS : 0
  const jaro = (shared / la + shared / lb + 1) / 3
  return Math.max(oneEdit, Math.min(1, jaro + 0.5 * (1 - jaro) - lengthPenalty(la, lb) + PHONETIC_BONUS))
}

/** Counts each distinct token of one listed name into the document frequencies `df`. */
export function countTokens (df: Map<string, number>, tokens: readonly string[]): void {
  for (const t of new Set(tokens)) df.set(t, (df.get(t) ?? 0) + 1)
}

/** Token weights from how often a token appears among the listed names (IDF-like). */
export class TokenWeights {
  readonly #df: Map<string, number>
  readonly #logN: number

  /** From the token lists of the listed names, or from the document frequencies already counted (`countTokens`) and the number of names. */
  constructor (names: Iterable<readonly string[]> | { df: Map<string, number>, names: number }) {
    if ('df' in names) {
      this.#df = names.df
      this.#logN = Math.log(names.names + 1)
      return
    }
    this.#df = new Map()
    let n = 0
    for (const tokens of names) {
      n++
      countTokens(this.#df, tokens)
    }
    this.#logN = Math.log(n + 1)
  }

  /** In (0, 1]: 1 for a token found on no listed name, small for "bank", "trading", "mohammed"; legal forms and particles get MINOR_WEIGHT. */
  weight (token: string): number {
    if (isMinor(token)) return MINOR_WEIGHT
    const df = this.#df.get(token) ?? 0
    const idf = this.#logN === 0 ? 1 : (this.#logN - Math.log(df + 1)) / this.#logN
    return Math.max(0.1, Math.min(1, idf))
  }
}

export interface NameForm {
  tokens: readonly string[]
  weights: readonly number[]
  codes: ReadonlyArray<readonly string[]>
}

export interface TokenPair {
  query: string
  /** The listed token paired with it, or null when none earned credit. */
  listed: string | null
  similarity: number
  phonetic: number
  initial: boolean
  /** Weight of the query token. */
  weight: number
  /** similarity when at or above TOKEN_FLOOR, else 0. */
  credit: number
}

export interface NameFactor { reason: 'unmatched_listed_tokens' | 'single_token_query', factor: number }

export interface NameScore {
  score: number
  pairs: TokenPair[]
  unmatchedListed: string[]
  factors: NameFactor[]
}

/**
 * Scores a query name against a listed name, independent of word order: token pairs are taken
 * greedily, best first; each query token earns its similarity times its weight when the
 * similarity reaches TOKEN_FLOOR; the weighted mean is then reduced by factors ≤ 1.
 * Hence score ≤ (weight of the query tokens that reach TOKEN_FLOOR with some listed token) / (query weight):
 * the bound the index prunes with.
 */
export function scoreName (q: NameForm, c: NameForm): NameScore {
  const all: Array<{ m: TokenMatch, i: number, j: number }> = []
  for (let i = 0; i < q.tokens.length; i++) {
    for (let j = 0; j < c.tokens.length; j++) {
      const m = tokenSimilarity(q.tokens[i] as string, c.tokens[j] as string, q.codes[i] as string[], c.codes[j] as string[])
      if (m.similarity >= TOKEN_FLOOR) all.push({ m, i, j })
    }
  }
  all.sort((x, y) => y.m.similarity - x.m.similarity || x.i - y.i || x.j - y.j)
  const pairOf = new Array<{ m: TokenMatch, j: number } | undefined>(q.tokens.length)
  const usedC = new Set<number>()
  for (const p of all) {
    if (pairOf[p.i] !== undefined || usedC.has(p.j)) continue
    pairOf[p.i] = { m: p.m, j: p.j }
    usedC.add(p.j)
  }
  let qWeight = 0
  let earned = 0
  const pairs: TokenPair[] = q.tokens.map((t, i) => {
    const w = q.weights[i] as number
    qWeight += w
    const p = pairOf[i]
    if (p === undefined) return { query: t, listed: null, similarity: 0, phonetic: 0, initial: false, weight: w, credit: 0 }
    earned += p.m.similarity * w
    return { query: t, listed: c.tokens[p.j] as string, similarity: p.m.similarity, phonetic: p.m.phonetic, initial: p.m.initial, weight: w, credit: p.m.similarity }
  })
  let score = qWeight === 0 ? 0 : earned / qWeight
  const factors: NameFactor[] = []
  const unmatchedListed: string[] = []
  let cWeight = 0
  let unmatchedWeight = 0
  c.tokens.forEach((t, j) => {
    cWeight += c.weights[j] as number
    if (!usedC.has(j)) { unmatchedWeight += c.weights[j] as number; unmatchedListed.push(t) }
  })
  if (unmatchedWeight > 0 && cWeight > 0) {
    const factor = 1 - UNMATCHED_LISTED_PENALTY * unmatchedWeight / cWeight
    factors.push({ reason: 'unmatched_listed_tokens', factor })
    score *= factor
  }
  if (q.tokens.length === 1 && c.tokens.length > 1) {
    factors.push({ reason: 'single_token_query', factor: SINGLE_TOKEN_FACTOR })
    score *= SINGLE_TOKEN_FACTOR
  }
  return { score, pairs, unmatchedListed, factors }
}
