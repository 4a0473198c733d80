import { sameCountry } from '../domain/countries.js'
import type { SanctionsEntry } from '../domain/types.js'
import { ScreeningIndex } from './index.js'

export type ServingIndex = ScreeningIndex & { recordCount: () => number }

/**
 * The one place a screening index is made from entries: the list refresh builds each new version
 * with it, in slices, so that the serving version keeps answering while the next one is built.
 */
export async function buildScreeningIndex (entries: SanctionsEntry[]): Promise<ServingIndex> {
  const index = await ScreeningIndex.build(entries, { countryMatches: sameCountry })
  return Object.assign(index, { recordCount: () => index.size })
}
