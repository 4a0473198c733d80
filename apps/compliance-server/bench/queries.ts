// Generated screening queries: listed names with one edit, reordered or dropped tokens, diacritics, case.
import type { SanctionsEntry } from '../src/domain/types.js'

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
export function prng (seed: number): (k: number) => number {
  let a = seed >>> 0
  return (k) => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * k)
  }
}

export const EDITS = ['substitution', 'insertion', 'deletion', 'transposition', 'swap', 'drop', 'diacritics', 'case'] as const
export type Edit = typeof EDITS[number]

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'
const ACCENTS: Record<string, string> = { a: 'á', e: 'é', i: 'í', o: 'ö', u: 'ü', c: 'ç', n: 'ñ', s: 'š', z: 'ž' }

/** Letter positions of a string (edits touch letters only, so the tokenization stays the same). */
function letterPositions (s: string): number[] {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) if (/[A-Za-z]/.test(s[i] as string)) out.push(i)
  return out
}

/** Applies one edit to a name. */
export function edit (name: string, kind: Edit, rand: (k: number) => number): string {
  const pos = letterPositions(name)
  const at = pos.length === 0 ? 0 : pos[rand(pos.length)] as number
  const letter = LETTERS[rand(26)] as string
  const words = name.replace(/,/g, ' ').split(/\s+/).filter((w) => w !== '')
  switch (kind) {
    case 'substitution': return name.slice(0, at) + letter + name.slice(at + 1)
    case 'insertion': return name.slice(0, at) + letter + name.slice(at)
    case 'deletion': return name.slice(0, at) + name.slice(at + 1)
    case 'transposition': {
      const j = pos.find((p) => p === at + 1)
      return j === undefined ? name : name.slice(0, at) + name[at + 1] + name[at] + name.slice(at + 2)
    }
    case 'swap': {
      if (words.length < 2) return name
      const i = rand(words.length - 1)
      ;[words[i], words[i + 1]] = [words[i + 1] as string, words[i] as string]
      return words.join(' ')
    }
    case 'drop': return words.length < 3 ? name : words.filter((_, i) => i !== rand(words.length)).join(' ')
    case 'diacritics': return name.replace(/[aeiouncsz]/gi, (c) => rand(2) === 0 ? (ACCENTS[c.toLowerCase()] ?? c) : c)
    case 'case': return rand(2) === 0 ? name.toLowerCase() : name.toLowerCase().replace(/\b[a-z]/g, (c) => c.toUpperCase())
  }
}

/** A random listed name (primary or alias, never weak) of a random entry. */
export function listedName (entries: SanctionsEntry[], rand: (k: number) => number): { entry: SanctionsEntry, name: string } {
  const entry = entries[rand(entries.length)] as SanctionsEntry
  const names = [entry.name, ...entry.aliases.filter((a) => a.kind !== 'weak').map((a) => a.name)]
  return { entry, name: names[rand(names.length)] as string }
}
