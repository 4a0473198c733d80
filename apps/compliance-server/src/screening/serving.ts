import { sameCountry } from '../domain/countries.js'
import type { SanctionsEntry } from '../domain/types.js'
import { ScreeningIndex } from './index.js'

export type ServingIndex = ScreeningIndex & { recordCount: () => number }

/** The one place a screening index is made from entries: the list refresh builds each new version with it. */
export function buildScreeningIndex (entries: SanctionsEntry[]): ServingIndex {
  const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
  return Object.assign(index, { recordCount: () => index.size })
}
