import { createHash, randomUUID } from 'node:crypto'
import type { ListManager, ListVersion, NewHits, RescreenSubject, SubjectQuery } from './lists/index.js'
import { startRescreening, subjectQuery } from './lists/index.js'
import { canonical } from './records/chain.js'
import type { RecordsStore } from './records/store.js'
import type { AlertInput, CallerInfo } from './records/types.js'
import { ALGORITHM, DEFAULT_THRESHOLD, type ScreeningHit } from './screening/index.js'
import { buildScreeningIndex, type ServingIndex } from './screening/serving.js'

interface Log { info: (o: object, m: string) => void, error: (o: object, m: string) => void }

/** The caller of every alert that a list change raised (no person asked for it). */
export const RESCREEN_CALLER: CallerInfo = { subject: 'system:rescreen', clientId: null, issuer: null, scopes: [] }

/** The evidence of an alert: what was asked, every hit whole, the list version and datasets, the algorithm and threshold, who and which call. */
export function screeningAlert (o: {
  tool: string
  requestId: string
  subject: Record<string, unknown>
  query: SubjectQuery | Record<string, unknown>
  threshold: number
  limit: number
  hits: readonly ScreeningHit[]
  version: Pick<ListVersion<unknown>, 'id' | 'datasets'>
  caller: CallerInfo
}): AlertInput {
  return {
    tool: o.tool,
    requestId: o.requestId,
    subject: o.subject,
    query: { ...o.query, threshold: o.threshold, limit: o.limit },
    hits: o.hits,
    datasets: o.version.datasets,
    algorithm: { name: ALGORITHM.name, version: ALGORITHM.version, threshold: o.threshold, listVersion: o.version.id },
    caller: o.caller
  }
}

/**
 * The subjects re-screened on a list change: every watched customer, then the subject of every
 * stored alert not already among them (one per distinct subject, the oldest alert naming it).
 */
export async function subjectsToRescreen (records: RecordsStore): Promise<RescreenSubject[]> {
  const seen = new Set<string>()
  const out: RescreenSubject[] = []
  for (const w of await records.watched()) {
    const subject = subjectQuery(w.subject)
    seen.add(canonical(subject))
    out.push({ subject, customerRef: w.customerRef })
  }
  for (const a of await records.alertSubjects()) {
    const subject = subjectQuery(a.subject)
    const key = canonical(subject)
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ subject, alertId: a.alertId })
  }
  return out
}

/**
 * Re-screens the watchlist and the subjects of the stored alerts whenever a list version adds or
 * changes entries, and opens an alert for each subject's new hits, audited like any call, with the
 * caller `system:rescreen` and the list version that caused it. With several instances each sees the
 * change; the records store opens the alert once.
 */
export function startServiceRescreening (lists: ListManager<ServingIndex>, records: RecordsStore, log?: Log): () => void {
  return startRescreening(lists, {
    subjects: async () => await subjectsToRescreen(records),
    buildIndex: buildScreeningIndex,
    threshold: DEFAULT_THRESHOLD,
    openAlert: async (found) => { await openRescreenAlert(lists, records, found, log) },
    baselines: { fingerprint: async (id) => await records.rescreenBaselineFingerprint(id), load: async (id) => await records.rescreenBaseline(id), save: async (id, fingerprint, entries) => { await records.saveRescreenBaseline(id, fingerprint, entries) } },
    onStartChecked: () => { log?.info({}, 're-screening baselines checked at start') },
    onResume: (sourceId, delta) => { log?.info({ sourceId, ...delta }, 'a list change not yet re-screened (made while the service was down, or unfinished) is re-screened now') },
    onError: (err, change) => { log?.error({ err: (err as Error).message, sourceId: change.sourceId, versionId: change.versionId }, 're-screening after a list change failed (records store unreachable?); it is retried until it succeeds') }
  })
}

async function openRescreenAlert (lists: ListManager<ServingIndex>, records: RecordsStore, found: NewHits<ScreeningHit>, log?: Log): Promise<void> {
  const { subject, hits, sourceId, versionId } = found
  const current = lists.current()
  const version = current.id === versionId ? current : { id: versionId, datasets: current.datasets }
  const requestId = randomUUID()
  const refs = { ...(subject.customerRef === undefined ? {} : { customerRef: subject.customerRef }), ...(subject.alertId === undefined ? {} : { rescreenOf: subject.alertId }) }
  const alert = screeningAlert({ tool: 'rescreen', requestId, subject: { ...subject.subject, ...refs }, query: subject.subject, threshold: DEFAULT_THRESHOLD, limit: hits.length, hits, version, caller: RESCREEN_CALLER })
  const key = createHash('sha256').update(canonical({ subject: subject.subject, sourceId, versionId })).digest('hex')
  const alertId = await records.openAlertOnce(alert, key)
  if (alertId === null) return
  const input = { ...subject.subject, ...refs }
  await records.append({
    requestId,
    tool: 'rescreen',
    at: new Date().toISOString(),
    caller: { subject: RESCREEN_CALLER.subject, scopes: [] },
    inputSha256: createHash('sha256').update(canonical(input)).digest('hex'),
    input,
    outcome: 'ok',
    listVersion: versionId,
    sourceId,
    effects: { alertId, alertState: 'open', hits: hits.map((h) => `${h.source}:${h.id}`) }
  })
  log?.info({ alertId, sourceId, versionId, ...refs, hits: hits.length }, 'a list change raised a new alert')
}
