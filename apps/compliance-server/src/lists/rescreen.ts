import type { SanctionsEntry } from '../domain/types.js'
import { diffEntriesSliced } from './delta.js'
import { datasetsFingerprint, type ListChange, type ListManager } from './manager.js'

/** The fields of a `screen_sanctions` subject: what a re-screening sends to the index. */
export interface SubjectQuery {
  name: string
  type?: SanctionsEntry['type'] | undefined
  birthDate?: string | undefined
  country?: string | undefined
  nationality?: string | undefined
  identifiers?: Array<{ kind: string, value: string }> | undefined
  programs?: string[] | undefined
  sources?: string[] | undefined
  includeWeakAliases?: boolean | undefined
}

const SUBJECT_FIELDS = ['name', 'type', 'birthDate', 'country', 'nationality', 'identifiers', 'programs', 'sources', 'includeWeakAliases'] as const

/** The screening fields of a stored subject (an alert's or a watched customer's), without refs or other keys. */
export function subjectQuery (stored: Record<string, unknown>): SubjectQuery {
  const q: Record<string, unknown> = { name: String(stored.name ?? '') }
  for (const k of SUBJECT_FIELDS) if (stored[k] !== undefined && stored[k] !== null) q[k] = stored[k]
  return q as unknown as SubjectQuery
}

/** A subject to re-screen: a watched customer (`customerRef`) or the subject of a stored alert (`alertId`). */
export interface RescreenSubject {
  subject: SubjectQuery
  customerRef?: string
  alertId?: string
}

/** What any screening index offers: screening a subject. */
export interface Screener<H extends { source: string, id: string, score: number }> {
  screen: (q: SubjectQuery & { threshold: number }) => H[]
}

/** The new hits of one subject in one list change. */
export interface NewHits<H> {
  subject: RescreenSubject
  hits: H[]
  sourceId: string
  /** The list version that caused them. */
  versionId: string
}

/**
 * Screens `subjects` against the delta of a list change only (added and changed entries) and keeps
 * the new hits: an entry, by source and id, that the subject did not hit before at `threshold`
 * (a changed entry the subject already hit in its previous version is not new). One result per
 * subject with at least one new hit, best first.
 */
export async function rescreenChange<H extends { source: string, id: string, score: number }> (
  change: ListChange,
  subjects: readonly RescreenSubject[],
  buildIndex: (entries: SanctionsEntry[]) => Screener<H> | Promise<Screener<H>>,
  threshold: number
): Promise<Array<NewHits<H>>> {
  const delta = [...change.added, ...change.changed]
  if (delta.length === 0 || subjects.length === 0) return []
  const now = await buildIndex(delta)
  const before = change.changedBefore.length === 0 ? null : await buildIndex(change.changedBefore)
  const out: Array<NewHits<H>> = []
  for (const subject of subjects) {
    const q = { ...subject.subject, threshold }
    const had = new Set((before?.screen(q) ?? []).map((h) => `${h.source}\u0000${h.id}`))
    const hits = now.screen(q).filter((h) => !had.has(`${h.source}\u0000${h.id}`))
    if (hits.length > 0) out.push({ subject, hits, sourceId: change.sourceId, versionId: change.versionId })
  }
  return out
}

/**
 * Where the list each source was last re-screened against is kept (the records store): with it, a
 * change is re-screened from that list, whenever it is found — at a refresh, or at start when the
 * list changed while the service was down or a re-screening had not finished.
 */
export interface RescreenBaselines {
  /** The fingerprint of the baseline alone (cheap: no entries read). */
  fingerprint: (sourceId: string) => Promise<string | null>
  load: (sourceId: string) => Promise<{ fingerprint: string, entries: SanctionsEntry[] } | null>
  save: (sourceId: string, fingerprint: string, entries: readonly SanctionsEntry[]) => Promise<void>
}

/**
 * Re-screens on every list change: `subjects` is read afresh each time (the watchlist and the subjects
 * of the stored alerts), and each subject's new hits go to `openAlert`. A change whose re-screening
 * fails (the records store unreachable) is kept and tried again, `retryMs` doubling up to a minute,
 * until it succeeds: `openAlert` must be idempotent. With `baselines`, the delta is taken against
 * the stored baseline of the source (saved once its re-screening succeeded), and every source is
 * checked at once on start; a source without a baseline gets one, without re-screening. Returns the
 * function that stops it.
 */
export function startRescreening<I, H extends { source: string, id: string, score: number }> (
  lists: ListManager<I>,
  o: {
    subjects: () => Promise<RescreenSubject[]>
    buildIndex: (entries: SanctionsEntry[]) => Screener<H> | Promise<Screener<H>>
    threshold: number
    openAlert: (hits: NewHits<H>) => Promise<void>
    onError?: (err: unknown, change: ListChange) => void
    /** Told when a start found a change made while the service was down, or an unfinished one. */
    onResume?: (sourceId: string, delta: { added: number, changed: number }) => void
    /** Told once every source was checked against its baseline at start (whether or not that succeeded). */
    onStartChecked?: () => void
    retryMs?: number
    baselines?: RescreenBaselines
  }
): () => void {
  const pending: ListChange[] = []
  const first = o.retryMs ?? 5_000
  let delay = first
  let timer: NodeJS.Timeout | null = null
  const screenDelta = async (change: ListChange): Promise<void> => {
    for (const found of await rescreenChange(change, await o.subjects(), o.buildIndex, o.threshold)) await o.openAlert(found)
  }
  /** Re-screens one source from its baseline to what it serves now, then moves the baseline. */
  const fromBaseline = async (change: ListChange, baselines: RescreenBaselines, resumed: boolean): Promise<void> => {
    const now = lists.sourceSnapshot(change.sourceId)
    if (now === null) return
    const baseline = await baselines.fingerprint(change.sourceId)
    if (baseline === now.fingerprint) return
    if (!resumed && baseline === datasetsFingerprint(change.previous) && now.fingerprint === datasetsFingerprint(change.current)) {
      // The usual refresh: the baseline is the version this change replaced and the source still serves
      // its result, so the change's own delta is the one (no baseline entries read, no second diff).
      await screenDelta(change)
    } else if (baseline !== null) {
      const before = await baselines.load(change.sourceId)
      const delta = await diffEntriesSliced(before?.entries ?? [], now.entries)
      if (resumed) o.onResume?.(change.sourceId, { added: delta.added.length, changed: delta.changed.length })
      await screenDelta({ ...change, ...delta, versionId: lists.current().id })
    }
    await baselines.save(change.sourceId, now.fingerprint, now.entries)
  }
  // One re-screening at a time: a start-up check and a refresh of the same source never overlap.
  let queue: Promise<unknown> = Promise.resolve()
  const run = async (change: ListChange, resumed = false): Promise<boolean> => {
    const turn = queue.then(async () => {
      try {
        if (o.baselines === undefined) await screenDelta(change)
        else await fromBaseline(change, o.baselines, resumed)
        return true
      } catch (err) {
        o.onError?.(err, change)
        return false
      }
    })
    queue = turn
    return await turn
  }
  const schedule = (): void => {
    if (pending.length === 0 || timer !== null) return
    timer = setTimeout(() => {
      timer = null
      void (async () => {
        for (const change of pending.splice(0)) if (!await run(change)) pending.push(change)
        delay = pending.length === 0 ? first : Math.min(delay * 2, 60_000)
        schedule()
      })()
    }, delay)
    timer.unref()
  }
  const off = lists.onListChange(async (change) => {
    if (!await run(change)) { pending.push(change); schedule() }
  })
  if (o.baselines !== undefined) {
    // At start: every source against its baseline (a change made while the service was down, or one
    // whose re-screening had not finished, is re-screened now).
    const versionId = lists.current().id
    const checks = lists.sourceIds().map(async (sourceId) => {
      const change: ListChange = { sourceId, previous: [], current: [], versionId, added: [], changed: [], changedBefore: [], removed: [] }
      if (!await run(change, true)) { pending.push(change); schedule() }
    })
    void Promise.all(checks).then(() => { o.onStartChecked?.() })
  }
  return () => { off(); if (timer !== null) clearTimeout(timer) }
}
