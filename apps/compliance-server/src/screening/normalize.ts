import anyAscii from 'any-ascii'

/** Legal forms: kept as tokens but weighted so little that they never decide a match. */
export const LEGAL_FORMS: ReadonlySet<string> = new Set([
  'llc', 'ltd', 'limited', 'co', 'company', 'corp', 'corporation', 'inc', 'incorporated', 'plc', 'sa', 'sas', 'sarl', 'srl', 'spa',
  'ag', 'gmbh', 'kg', 'bv', 'nv', 'pjsc', 'ojsc', 'cjsc', 'jsc', 'pao', 'oao', 'zao', 'ooo', 'ao', 'fzco', 'fze', 'llp', 'lp',
  'pte', 'pty', 'bhd', 'sdn', 'ltda', 'cia', 'kk', 'oy', 'ab', 'as', 'asa', 'sal', 'wll', 'est', 'group', 'holding', 'holdings'
])
/** Particles and articles: same treatment as legal forms. */
export const PARTICLES: ReadonlySet<string> = new Set([
  'the', 'of', 'and', 'de', 'del', 'la', 'le', 'el', 'al', 'da', 'do', 'dos', 'das', 'di', 'du', 'von', 'van', 'der', 'den', 'y', 'e', 'for',
  'bin', 'ibn', 'bint', 'abu', 'ben'
])

/** Folds text to lowercase ASCII words (any-ascii transliteration, punctuation and apostrophes removed). */
export function fold (text: string): string {
  return anyAscii(text.normalize('NFKC')).toLowerCase().replace(/['’‘`´]/g, '').replace(/(?<=\b[a-z])\.(?=[a-z]\.)/g, '').replace(/[^a-z0-9]+/g, ' ').trim()
}

/** The tokens of a name, in order. */
export function tokenize (name: string): string[] {
  const f = fold(name)
  return f === '' ? [] : f.split(' ')
}

/** Tokens that carry little identifying information whatever their frequency. */
export function isMinor (token: string): boolean {
  return LEGAL_FORMS.has(token) || PARTICLES.has(token)
}

/** The identifying tokens of a name: without legal forms and particles (all tokens if nothing else is left). */
export function nameTokens (name: string): string[] {
  const all = tokenize(name)
  const kept = all.filter((t) => !isMinor(t))
  return kept.length > 0 ? kept : all
}
