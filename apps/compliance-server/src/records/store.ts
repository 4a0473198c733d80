import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { sql, type Transaction } from 'kysely'
import { canonical, hashRow, SigningKey, withoutSecrets, type Checkpoint } from './chain.js'
import { migrate, openEmbedded, openPostgres, ping, type Engine, type Tables } from './db.js'
import { AuditMirror } from './mirror.js'
import { ChainVerifier, type VerifyResult } from './verify.js'
import {
  RecordsError, RecordsUnavailableError,
  type Alert, type AlertInput, type AlertState, type AlertSummary, type CallerInfo, type CaseFile, type Decision, type DecisionKind, type Note, type StoredHit, type WatchedCustomer
} from './types.js'
import type { SanctionsEntry } from '../domain/types.js'

export interface RecordsOptions {
  /** PostgreSQL when set; the embedded engine in `dataDir` otherwise. */
  databaseUrl?: string | undefined
  dataDir: string
  signingKeyFile?: string | undefined
  retentionYears?: number
  checkpointEvery?: number
  checkpointIntervalMs?: number
  /** Most records in one commit. */
  maxBatch?: number
  /** AUDIT_LOG_FILE: an NDJSON file kept as a follower of the chain (see `mirror.ts`); `serve` only. */
  mirrorFile?: string | undefined
  /** A mirror write failed (it is retried; the call is not refused for it). */
  onMirrorError?: (err: unknown) => void
}

export interface AppendResult { seq: number, hash: string }

interface Pending { text: string, requestId: string, at: string, resolve: (r: AppendResult) => void, reject: (e: Error) => void }

const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString()
const isoOrNull = (v: Date | string | null): string | null => v === null ? null : iso(v)

/**
 * The records store: alerts with their evidence, four-eyes decisions, notes, and the audit chain
 * (one for the whole deployment), on PostgreSQL or the embedded engine with the same SQL.
 * Concurrent audit appends are grouped: one transaction and one commit per batch.
 */
export class RecordsStore {
  readonly engine: Engine['kind']
  readonly key: SigningKey
  readonly retentionYears: number
  /** This process's counts: audit commits and the records they held, alerts opened (screenings and re-screenings). */
  readonly stats = { commits: 0, records: 0, alertsOpened: 0 }
  readonly #engine: Engine
  readonly #checkpointEvery: number
  readonly #maxBatch: number
  readonly #timer: NodeJS.Timeout
  #queue: Pending[] = []
  #flushing: Promise<void> | null = null
  #closed = false
  readonly #changes = new EventEmitter()
  #mirror: AuditMirror | null = null

  private constructor (engine: Engine, key: SigningKey, o: RecordsOptions) {
    this.#engine = engine
    this.engine = engine.kind
    this.key = key
    this.retentionYears = o.retentionYears ?? 10
    this.#checkpointEvery = o.checkpointEvery ?? 1000
    this.#maxBatch = o.maxBatch ?? 512
    this.#timer = setInterval(() => { this.checkpoint().catch(() => {}) }, o.checkpointIntervalMs ?? 60_000)
    this.#timer.unref()
  }

  static async open (o: RecordsOptions): Promise<RecordsStore> {
    const key = await SigningKey.load(o.signingKeyFile ?? join(o.dataDir, 'audit-signing-key.pem'))
    const engine = o.databaseUrl !== undefined ? await openPostgres(o.databaseUrl) : await openEmbedded(o.dataDir)
    try {
      await migrate(engine.db)
    } catch (err) {
      await engine.close()
      throw err
    }
    const store = new RecordsStore(engine, key, o)
    if (o.mirrorFile !== undefined) {
      try {
        store.#mirror = await AuditMirror.open(o.mirrorFile, store, { onError: o.onMirrorError ?? (() => {}) })
      } catch (err) {
        await store.close()
        throw err
      }
    }
    return store
  }

  /** The AUDIT_LOG_FILE follower, when configured. */
  get mirror (): AuditMirror | null { return this.#mirror }

  get db (): Engine['db'] { return this.#engine.db }

  async ready (): Promise<boolean> { return await ping(this.#engine.db) }

  // ---- the audit chain ----

  /** Appends a record to the chain; resolves once it is committed (with the others of its batch). */
  async append (record: Record<string, unknown>): Promise<AppendResult> {
    if (this.#closed) throw new RecordsUnavailableError('the records store is closed')
    // A round trip through JSON drops undefined and escapes lone surrogates, so any input can be stored.
    const text = canonical(withoutSecrets(JSON.parse(JSON.stringify(record))))
    const requestId = typeof record.requestId === 'string' ? record.requestId : randomUUID()
    const at = typeof record.at === 'string' && !Number.isNaN(Date.parse(record.at)) ? record.at : new Date().toISOString()
    return await new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ text, requestId, at, resolve, reject })
      this.#flushing ??= this.#flush()
    })
  }

  async #flush (): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch)
        try {
          const results = await this.#commit(batch)
          batch.forEach((p, i) => { p.resolve(results[i] as AppendResult) })
        } catch (err) {
          const e = new RecordsUnavailableError(`the audit record could not be written: ${(err as Error).message}`, { cause: err })
          for (const p of batch) p.reject(e)
        }
      }
    } finally {
      this.#flushing = null
    }
  }

  async #lockHead (trx: Transaction<Tables>): Promise<{ seq: number, hash: string }> {
    // The row lock on the head serialises appenders across instances: one chain for the deployment.
    const r = await sql<{ seq: string, hash: string }>`select seq::text as seq, hash from audit_head where id = 1 for update`.execute(trx)
    const head = r.rows[0]
    if (head === undefined) throw new Error('the audit chain head is missing')
    return { seq: Number(head.seq), hash: head.hash }
  }

  async #commit (batch: Pending[]): Promise<AppendResult[]> {
    const results: AppendResult[] = []
    await this.#engine.db.transaction().execute(async (trx) => {
      const head = await this.#lockHead(trx)
      let { seq, hash: prev } = head
      const rows: Array<Tables['audit']> = []
      for (const p of batch) {
        seq++
        const hash = hashRow(seq, prev, p.text)
        rows.push({ seq, at: p.at, request_id: p.requestId, prev_hash: prev, hash, record: p.text })
        results.push({ seq, hash })
        prev = hash
      }
      await trx.insertInto('audit').values(rows).execute()
      await trx.updateTable('audit_head').set({ seq, hash: prev }).where('id', '=', 1).execute()
      if (Math.floor(seq / this.#checkpointEvery) > Math.floor(head.seq / this.#checkpointEvery)) await this.#insertCheckpoint(trx, seq, prev)
    })
    await this.#engine.afterCommit()
    this.stats.commits++
    this.stats.records += batch.length
    this.#changes.emit('commit', batch.length)
    void this.#mirror?.sync()
    return results
  }

  async #insertCheckpoint (trx: Transaction<Tables>, seq: number, hash: string): Promise<Checkpoint> {
    const c = this.key.sign(seq, hash, new Date().toISOString())
    await trx.insertInto('audit_checkpoints').values({ seq, hash, at: c.at, key_id: c.keyId, signature: c.signature }).onConflict((oc) => oc.column('seq').doNothing()).execute()
    return c
  }

  /** Signs the current head unless it is already anchored (every 60 s and at shutdown). */
  async checkpoint (): Promise<Checkpoint | null> {
    return await this.#engine.db.transaction().execute(async (trx) => {
      const head = await this.#lockHead(trx)
      if (head.seq === 0) return null
      const existing = await trx.selectFrom('audit_checkpoints').select('seq').where('seq', '=', head.seq).executeTakeFirst()
      if (existing !== undefined) return null
      return await this.#insertCheckpoint(trx, head.seq, head.hash)
    })
  }

  async head (): Promise<{ seq: number, hash: string }> {
    const r = await sql<{ seq: string, hash: string }>`select seq::text as seq, hash from audit_head where id = 1`.execute(this.#engine.db)
    return { seq: Number(r.rows[0]?.seq ?? 0), hash: r.rows[0]?.hash ?? '' }
  }

  /** The chain as lines (v2 records, checkpoint lines after the record they anchor), from a checkpoint or the start. */
  async * lines (o: { since?: Date } = {}): AsyncGenerator<Record<string, unknown>> {
    const db = this.#engine.db
    const first = await sql<{ seq: string }>`select min(seq)::text as seq from audit`.execute(db)
    let from = Number(first.rows[0]?.seq ?? 1)
    if (o.since !== undefined) {
      const f = await sql<{ seq: string | null }>`select min(seq)::text as seq from audit where at >= ${o.since.toISOString()}`.execute(db)
      const target = f.rows[0]?.seq === null || f.rows[0]?.seq === undefined ? Number((await this.head()).seq) + 1 : Number(f.rows[0].seq)
      const cp = await db.selectFrom('audit_checkpoints').selectAll().where(sql<boolean>`seq < ${target}`).where(sql<boolean>`seq >= ${from - 1}`).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      if (cp !== undefined) from = Number(cp.seq) + 1
    }
    // A chain that does not start at 1 (purged, or an export) starts with the checkpoint before it.
    if (from > 1) {
      const cp = await db.selectFrom('audit_checkpoints').selectAll().where('seq', '=', from - 1).executeTakeFirst()
      if (cp !== undefined) yield { checkpoint: toCheckpoint(cp) }
    }
    yield * this.#rowsAfter(from - 1)
  }

  /**
   * What a follower of the chain (the AUDIT_LOG_FILE mirror) appends after its last record
   * `afterSeq` and its last checkpoint `afterCheckpoint`: first the checkpoints signed since for
   * records it already has, then the new records, each with its checkpoint.
   */
  async * linesAfter (afterSeq: number, afterCheckpoint: number): AsyncGenerator<Record<string, unknown>> {
    const late = await this.#engine.db.selectFrom('audit_checkpoints').selectAll().where(sql<boolean>`seq > ${afterCheckpoint} and seq <= ${afterSeq}`).orderBy('seq').execute()
    for (const c of late) yield { checkpoint: toCheckpoint(c) }
    yield * this.#rowsAfter(afterSeq)
  }

  /** The hash of record `seq`, or null when it is not (or no longer) in the store. */
  async hashOf (seq: number): Promise<string | null> {
    const r = await this.#engine.db.selectFrom('audit').select('hash').where(sql<boolean>`seq = ${seq}`).executeTakeFirst()
    return r?.hash ?? null
  }

  async * #rowsAfter (afterSeq: number): AsyncGenerator<Record<string, unknown>> {
    const db = this.#engine.db
    let after = afterSeq
    for (;;) {
      const rows = await db.selectFrom('audit').selectAll().where(sql<boolean>`seq > ${after}`).orderBy('seq').limit(1000).execute()
      if (rows.length === 0) break
      const last = Number(rows[rows.length - 1]?.seq)
      const cps = await db.selectFrom('audit_checkpoints').selectAll().where(sql<boolean>`seq > ${after} and seq <= ${last}`).orderBy('seq').execute()
      const bySeq = new Map(cps.map((c) => [Number(c.seq), c]))
      for (const r of rows) {
        const seq = Number(r.seq)
        yield { v: 2, seq, prevHash: r.prev_hash, hash: r.hash, record: JSON.parse(r.record) as unknown, ...consistency(r) }
        const c = bySeq.get(seq)
        if (c !== undefined) yield { checkpoint: toCheckpoint(c) }
      }
      after = last
    }
  }

  /** Verifies the chain in the database, naming the first broken record. */
  async verify (key: SigningKey | null = this.key): Promise<VerifyResult> {
    const v = new ChainVerifier(key)
    for await (const line of this.lines()) {
      v.feed(line)
      if (v.broken) break
    }
    return v.result(await this.head())
  }

  // ---- alerts, decisions, notes ----

  /** Opens an alert with its evidence (query, hits whole, datasets, algorithm, caller, time). */
  async openAlert (a: AlertInput): Promise<string> {
    const alertId = `ALERT-${randomUUID()}`
    await this.#engine.db.insertInto('alerts').values(alertRow(alertId, a)).execute()
    this.stats.alertsOpened++
    return alertId
  }

  /**
   * Opens the alert of a re-screening once per `key` (subject, source and list version): every
   * instance sees the same list change, one of them opens the alert. Null when it was already opened.
   */
  async openAlertOnce (a: AlertInput, key: string): Promise<string | null> {
    const alertId = `ALERT-${randomUUID()}`
    const r = await this.#engine.db.insertInto('alerts').values({ ...alertRow(alertId, a), rescreen_key: key })
      .onConflict((c) => c.column('rescreen_key').doNothing()).returning('alert_id').executeTakeFirst()
    if (r === undefined) return null
    this.stats.alertsOpened++
    return alertId
  }

  /** The subjects of the stored alerts, one row per alert, oldest first (re-screened on every list change). */
  async alertSubjects (): Promise<Array<{ alertId: string, subject: Record<string, unknown> }>> {
    const rows = await this.#engine.db.selectFrom('alerts').select(['alert_id', 'subject']).orderBy('opened_at').orderBy('alert_id').execute()
    return rows.map((r) => ({ alertId: r.alert_id, subject: JSON.parse(r.subject) as Record<string, unknown> }))
  }

  // ---- re-screening baselines ----

  /** The fingerprint of a source's baseline (see {@link rescreenBaseline}), without its entries. */
  async rescreenBaselineFingerprint (sourceId: string): Promise<string | null> {
    const r = await this.#engine.db.selectFrom('rescreen_baselines').select('fingerprint').where('source_id', '=', sourceId).executeTakeFirst()
    return r?.fingerprint ?? null
  }

  /** The list a source was last fully re-screened against (see `startRescreening`), or null before the first. */
  async rescreenBaseline (sourceId: string): Promise<{ fingerprint: string, entries: SanctionsEntry[] } | null> {
    const r = await this.#engine.db.selectFrom('rescreen_baselines').select(['fingerprint', 'entries']).where('source_id', '=', sourceId).executeTakeFirst()
    return r === undefined ? null : { fingerprint: r.fingerprint, entries: JSON.parse(r.entries) as SanctionsEntry[] }
  }

  /** Records that a source's list, as `fingerprint`, has been re-screened (every instance then skips it). */
  async saveRescreenBaseline (sourceId: string, fingerprint: string, entries: readonly SanctionsEntry[]): Promise<void> {
    const row = { source_id: sourceId, fingerprint, entries: JSON.stringify(entries), updated_at: new Date().toISOString() }
    await this.#engine.db.insertInto('rescreen_baselines').values(row)
      .onConflict((c) => c.column('source_id').doUpdateSet({ fingerprint: row.fingerprint, entries: row.entries, updated_at: row.updated_at })).execute()
  }

  // ---- the watchlist ----

  /** Keeps a customer under watch (replacing the fields of a `customerRef` already watched). */
  async watch (w: { customerRef: string, subject: Record<string, unknown>, by: CallerInfo }): Promise<WatchedCustomer & { replaced: boolean }> {
    const at = new Date().toISOString()
    return await this.#engine.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('watchlist').select('customer_ref').where('customer_ref', '=', w.customerRef).forUpdate().executeTakeFirst()
      const row = { customer_ref: w.customerRef, subject: JSON.stringify(w.subject), watched_by: JSON.stringify(w.by), watched_at: at }
      await trx.insertInto('watchlist').values(row)
        .onConflict((c) => c.column('customer_ref').doUpdateSet({ subject: row.subject, watched_by: row.watched_by, watched_at: row.watched_at })).execute()
      return { customerRef: w.customerRef, subject: w.subject, watchedBy: w.by, watchedAt: at, replaced: before !== undefined }
    })
  }

  /** Stops watching a customer; false when `customerRef` was not watched. */
  async unwatch (customerRef: string): Promise<boolean> {
    const r = await this.#engine.db.deleteFrom('watchlist').where('customer_ref', '=', customerRef).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  /** Every watched customer, by customerRef. */
  async watched (): Promise<WatchedCustomer[]> {
    const rows = await this.#engine.db.selectFrom('watchlist').selectAll().orderBy('customer_ref').execute()
    return rows.map((r) => ({ customerRef: r.customer_ref, subject: JSON.parse(r.subject) as Record<string, unknown>, watchedBy: JSON.parse(r.watched_by) as CallerInfo, watchedAt: iso(r.watched_at) }))
  }

  async getAlert (alertId: string): Promise<Alert | null> {
    const r = await this.#engine.db.selectFrom('alerts').selectAll().where('alert_id', '=', alertId).executeTakeFirst()
    return r === undefined ? null : toAlert(r)
  }

  async #alertForUpdate (trx: Transaction<Tables>, alertId: string): Promise<Tables['alerts']> {
    const r = await trx.selectFrom('alerts').selectAll().where('alert_id', '=', alertId).forUpdate().executeTakeFirst()
    if (r === undefined) throw new RecordsError(`no alert "${alertId}": alert ids come from screen_sanctions or screen_batch answers with a hit`)
    return r
  }

  /** Proposes a decision (first pair of eyes); refused while another one awaits review. */
  async proposeDecision (d: { alertId: string, decision: DecisionKind, note: string, by: string }): Promise<Decision> {
    return this.#changed(d.alertId, await this.#engine.db.transaction().execute(async (trx) => {
      const alert = await this.#alertForUpdate(trx, d.alertId)
      if (alert.state === 'proposed') {
        const pending = await trx.selectFrom('decisions').select(['decision', 'proposed_by']).where('alert_id', '=', d.alertId).where('state', '=', 'proposed').executeTakeFirst()
        throw new RecordsError(`alert "${d.alertId}" already has a decision awaiting review (${pending?.decision ?? '?'} proposed by ${pending?.proposed_by ?? '?'}): review it with review_decision first`)
      }
      if (alert.state === 'approved') throw new RecordsError(`alert "${d.alertId}" is closed: its decision was approved`)
      const now = new Date().toISOString()
      const row = { decision_id: randomUUID(), alert_id: d.alertId, decision: d.decision, note: d.note, proposed_by: d.by, proposed_at: now, state: 'proposed', reviewed_by: null, reviewed_at: null, review_note: null }
      await trx.insertInto('decisions').values(row).execute()
      await trx.updateTable('alerts').set({ state: 'proposed', updated_at: now }).where('alert_id', '=', d.alertId).execute()
      return toDecision(row)
    }))
  }

  /** Approves or rejects the pending decision (second pair of eyes: never the proposer). */
  async reviewDecision (r: { alertId: string, verdict: 'approve' | 'reject', note: string, by: string }): Promise<{ decision: Decision, alertState: AlertState }> {
    return this.#changed(r.alertId, await this.#engine.db.transaction().execute(async (trx) => {
      const alert = await this.#alertForUpdate(trx, r.alertId)
      const pending = await trx.selectFrom('decisions').selectAll().where('alert_id', '=', r.alertId).where('state', '=', 'proposed').executeTakeFirst()
      if (alert.state !== 'proposed' || pending === undefined) throw new RecordsError(`alert "${r.alertId}" has no decision awaiting review (state ${alert.state})`)
      if (pending.proposed_by === r.by) throw new RecordsError(`four-eyes rule: ${r.by} proposed this decision and cannot review it; another reviewer must`)
      const now = new Date().toISOString()
      const state = r.verdict === 'approve' ? 'approved' : 'rejected'
      const alertState: AlertState = r.verdict === 'approve' ? 'approved' : 'open'
      await trx.updateTable('decisions').set({ state, reviewed_by: r.by, reviewed_at: now, review_note: r.note }).where('decision_id', '=', pending.decision_id).execute()
      await trx.updateTable('alerts').set({ state: alertState, updated_at: now }).where('alert_id', '=', r.alertId).execute()
      return { decision: toDecision({ ...pending, state, reviewed_by: r.by, reviewed_at: now, review_note: r.note }), alertState }
    }))
  }

  async addNote (n: { alertId: string, note: string, author: string }): Promise<Note> {
    return this.#changed(n.alertId, await this.#engine.db.transaction().execute(async (trx) => {
      await this.#alertForUpdate(trx, n.alertId)
      const row = { note_id: randomUUID(), alert_id: n.alertId, note: n.note, author: n.author, created_at: new Date().toISOString() }
      await trx.insertInto('notes').values(row).execute()
      await trx.updateTable('alerts').set({ updated_at: row.created_at }).where('alert_id', '=', n.alertId).execute()
      return toNote(row)
    }))
  }

  /** Calls `listener` with the alert id after each decision, review or note committed through this instance. */
  /** Calls `listener` with the number of records after each audit commit of this process. */
  onCommit (listener: (records: number) => void): () => void {
    this.#changes.on('commit', listener)
    return () => { this.#changes.off('commit', listener) }
  }

  onCaseChanged (listener: (alertId: string) => void): () => void {
    this.#changes.on('case', listener)
    return () => { this.#changes.off('case', listener) }
  }

  #changed<T> (alertId: string, value: T): T {
    this.#changes.emit('case', alertId)
    return value
  }

  /** Alert ids starting with `prefix`, newest first (for completion). */
  async alertIds (prefix: string, limit: number): Promise<string[]> {
    const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`)
    const rows = await this.#engine.db.selectFrom('alerts').select('alert_id').where('alert_id', 'like', `${escaped}%`).orderBy('opened_at', 'desc').limit(limit).execute()
    return rows.map((r) => r.alert_id)
  }

  async getCase (alertId: string): Promise<CaseFile | null> {
    const alert = await this.getAlert(alertId)
    if (alert === null) return null
    const db = this.#engine.db
    const decisions = await db.selectFrom('decisions').selectAll().where('alert_id', '=', alertId).orderBy('proposed_at').orderBy('decision_id').execute()
    const notes = await db.selectFrom('notes').selectAll().where('alert_id', '=', alertId).orderBy('created_at').orderBy('note_id').execute()
    return { caseId: alertId, alertId, alert, decisions: decisions.map(toDecision), notes: notes.map(toNote) }
  }

  /** The analyst's queue, oldest first, keyset-paginated. */
  async listAlerts (q: { state?: AlertState, olderThan?: string, cursor?: string, limit?: number }): Promise<{ alerts: AlertSummary[], nextCursor?: string }> {
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200)
    let query = this.#engine.db.selectFrom('alerts').selectAll()
    if (q.state !== undefined) query = query.where('state', '=', q.state)
    if (q.olderThan !== undefined) query = query.where('opened_at', '<', new Date(q.olderThan).toISOString())
    if (q.cursor !== undefined) {
      const [at, id] = decodeCursor(q.cursor)
      query = query.where(sql<boolean>`(opened_at, alert_id) > (${at}::timestamptz, ${id})`)
    }
    const rows = await query.orderBy('opened_at').orderBy('alert_id').limit(limit + 1).execute()
    const page = rows.slice(0, limit).map(toAlert)
    const alerts = page.map((a) => ({ alertId: a.alertId, state: a.state, openedAt: a.openedAt, updatedAt: a.updatedAt, subject: a.subject, bestHit: bestOf(a.hits), hits: a.hits.length }))
    const last = page[page.length - 1]
    return rows.length > limit && last !== undefined ? { alerts, nextCursor: Buffer.from(`${last.openedAt}|${last.alertId}`).toString('base64url') } : { alerts }
  }

  // ---- retention ----

  /**
   * Deletes what is older than `before` (refused inside the retention period): audit records up to
   * the last one before that date, anchored first by a signed checkpoint so that the rest of the
   * chain still verifies, and alerts (with their decisions and notes) untouched since.
   */
  async purge (before: Date, now = new Date()): Promise<{ auditThrough: number, auditDeleted: number, alertsDeleted: number }> {
    const limit = new Date(now)
    limit.setUTCFullYear(limit.getUTCFullYear() - this.retentionYears)
    if (before.getTime() > limit.getTime()) throw new RecordsError(`refused: ${before.toISOString().slice(0, 10)} is inside the retention period (RETENTION_YEARS=${this.retentionYears}: nothing after ${limit.toISOString().slice(0, 10)} may be deleted)`)
    return await this.#engine.db.transaction().execute(async (trx) => {
      await this.#lockHead(trx)
      const last = await trx.selectFrom('audit').select(['seq', 'hash']).where('at', '<', before.toISOString()).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      let auditDeleted = 0
      let auditThrough = 0
      if (last !== undefined) {
        auditThrough = Number(last.seq)
        await this.#insertCheckpoint(trx, auditThrough, last.hash)
        const d = await trx.deleteFrom('audit').where(sql<boolean>`seq <= ${auditThrough}`).executeTakeFirst()
        auditDeleted = Number(d.numDeletedRows)
        await trx.deleteFrom('audit_checkpoints').where(sql<boolean>`seq < ${auditThrough}`).execute()
      }
      const a = await trx.deleteFrom('alerts').where('updated_at', '<', before.toISOString()).executeTakeFirst()
      return { auditThrough, auditDeleted, alertsDeleted: Number(a.numDeletedRows) }
    })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    await this.#flushing
    await this.checkpoint().catch(() => {})
    await this.#mirror?.close()
    await this.#engine.close()
  }
}

function consistency (r: Tables['audit']): Record<string, unknown> {
  // The indexed columns are copies of the record: a row whose copy disagrees was edited.
  const rec = JSON.parse(r.record) as { requestId?: unknown, at?: unknown }
  const bad: string[] = []
  if (typeof rec.requestId === 'string' && rec.requestId !== r.request_id) bad.push('request_id')
  if (typeof rec.at === 'string' && !Number.isNaN(Date.parse(rec.at)) && Date.parse(rec.at) !== new Date(r.at).getTime()) bad.push('at')
  return bad.length === 0 ? {} : { columnsDisagree: bad }
}

function alertRow (alertId: string, a: AlertInput): Tables['alerts'] {
  const now = new Date().toISOString()
  const json = (v: unknown): string => JSON.stringify(v)
  return {
    alert_id: alertId,
    state: 'open',
    tool: a.tool,
    request_id: a.requestId,
    subject: json(a.subject),
    query: json(a.query),
    hits: json(a.hits),
    datasets: json(a.datasets),
    algorithm: json(a.algorithm),
    opened_by: json(a.caller),
    opened_at: now,
    updated_at: now
  }
}

function toCheckpoint (c: Tables['audit_checkpoints']): Checkpoint {
  return { seq: Number(c.seq), hash: c.hash, at: c.at, keyId: c.key_id, signature: c.signature }
}

function bestOf (hits: StoredHit[]): StoredHit | null {
  return hits.reduce<StoredHit | null>((b, h) => b === null || h.score > b.score ? h : b, null)
}

function decodeCursor (cursor: string): [string, string] {
  const text = Buffer.from(cursor, 'base64url').toString()
  const i = text.indexOf('|')
  if (i < 0 || Number.isNaN(Date.parse(text.slice(0, i)))) throw new RecordsError('invalid cursor: pass nextCursor from a previous list_alerts answer')
  return [text.slice(0, i), text.slice(i + 1)]
}

function toAlert (r: Tables['alerts']): Alert {
  return {
    alertId: r.alert_id,
    state: r.state as AlertState,
    tool: r.tool,
    requestId: r.request_id,
    subject: JSON.parse(r.subject) as Record<string, unknown>,
    query: JSON.parse(r.query) as Record<string, unknown>,
    hits: JSON.parse(r.hits) as StoredHit[],
    datasets: JSON.parse(r.datasets) as unknown[],
    algorithm: JSON.parse(r.algorithm) as Record<string, unknown>,
    openedBy: JSON.parse(r.opened_by) as Alert['openedBy'],
    openedAt: iso(r.opened_at),
    updatedAt: iso(r.updated_at)
  }
}

function toDecision (r: Tables['decisions']): Decision {
  return {
    decisionId: r.decision_id,
    alertId: r.alert_id,
    decision: r.decision as DecisionKind,
    note: r.note,
    decidedBy: r.proposed_by,
    decidedAt: iso(r.proposed_at),
    state: r.state as Decision['state'],
    reviewedBy: r.reviewed_by,
    reviewedAt: isoOrNull(r.reviewed_at),
    reviewNote: r.review_note
  }
}

function toNote (r: Tables['notes']): Note {
  return { noteId: r.note_id, caseId: r.alert_id, alertId: r.alert_id, note: r.note, author: r.author, createdAt: iso(r.created_at) }
}
