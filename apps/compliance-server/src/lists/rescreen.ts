import type { SanctionsEntry } from '../domain/types.js'
import type { ListChange, ListManager } from './manager.js'

/** A customer kept under watch: the fields of a `screen_sanctions` subject plus the caller's reference. */
export interface WatchedSubject {
  customerRef: string
  name: string
  type?: SanctionsEntry['type'] | undefined
  birthDate?: string | undefined
  country?: string | undefined
}

/** Where watched subjects are kept; the memory one below, a records-store one at merge time. */
export interface Watchlist {
  watch: (s: WatchedSubject) => Promise<void>
  unwatch: (customerRef: string) => Promise<boolean>
  list: () => Promise<WatchedSubject[]>
}

export class MemoryWatchlist implements Watchlist {
  readonly #subjects = new Map<string, WatchedSubject>()
  async watch (s: WatchedSubject): Promise<void> { this.#subjects.set(s.customerRef, { ...s }) }
  async unwatch (customerRef: string): Promise<boolean> { return this.#subjects.delete(customerRef) }
  async list (): Promise<WatchedSubject[]> { return [...this.#subjects.values()].map((s) => ({ ...s })) }
}

/** What any screening index offers: screening a subject. */
export interface Screener<H extends { source: string, id: string, score: number }> {
  screen: (q: { name: string, type?: SanctionsEntry['type'] | undefined, birthDate?: string | undefined, country?: string | undefined, threshold?: number }) => H[]
}

export interface NewHit<H> {
  subject: WatchedSubject
  hit: H
  sourceId: string
  /** The list version that caused it. */
  versionId: string
}

/**
 * Screens `subjects` against the delta of a list change only (added and changed entries) and keeps
 * the new hits: an entry, by source and id, that the subject did not hit before at `threshold`
 * (a changed entry the subject already hit in its previous version is not new).
 */
export async function rescreenChange<H extends { source: string, id: string, score: number }> (
  change: ListChange,
  subjects: readonly WatchedSubject[],
  buildIndex: (entries: SanctionsEntry[]) => Screener<H> | Promise<Screener<H>>,
  threshold: number
): Promise<Array<NewHit<H>>> {
  const delta = [...change.added, ...change.changed]
  if (delta.length === 0 || subjects.length === 0) return []
  const now = await buildIndex(delta)
  const before = change.changedBefore.length === 0 ? null : await buildIndex(change.changedBefore)
  const out: Array<NewHit<H>> = []
  for (const subject of subjects) {
    const q = { name: subject.name, type: subject.type, birthDate: subject.birthDate, country: subject.country, threshold }
    const had = new Set((before?.screen(q) ?? []).map((h) => `${h.source}\u0000${h.id}`))
    for (const hit of now.screen(q)) {
      if (!had.has(`${hit.source}\u0000${hit.id}`)) out.push({ subject, hit, sourceId: change.sourceId, versionId: change.versionId })
    }
  }
  return out
}

/** Re-screens the watchlist on every list change and hands each new hit to `openAlert` (the alerts store). */
export function startRescreening<I, H extends { source: string, id: string, score: number }> (
  lists: ListManager<I>,
  watchlist: Watchlist,
  o: { buildIndex: (entries: SanctionsEntry[]) => Screener<H> | Promise<Screener<H>>, threshold: number, openAlert: (hit: NewHit<H>) => Promise<void> }
): () => void {
  return lists.onListChange(async (change) => {
    for (const hit of await rescreenChange(change, await watchlist.list(), o.buildIndex, o.threshold)) await o.openAlert(hit)
  })
}
