import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DatasetInfo, SanctionsEntry } from '../domain/types.js'
import { readFiles } from './detect.js'
import { diffEntriesSliced, type EntryDelta } from './delta.js'
import { DataError } from './errors.js'
import { fetchSource, type FetchLike, type Validators } from './sources.js'
import type { ListFile, ReadResult, SourceConfig } from './types.js'

/** One version of the loaded lists: the index built from them and the datasets it names. */
export interface ListVersion<I> {
  /** SHA-256 over the datasets' hashes: the same lists give the same id on every instance. */
  id: string
  index: I
  datasets: DatasetInfo[]
  builtAt: string
}

export interface ListChange extends EntryDelta {
  sourceId: string
  previous: DatasetInfo[]
  current: DatasetInfo[]
  /** The list version that carries the change. */
  versionId: string
}

export interface SourceStatus {
  id: string
  kind: 'url' | 'path'
  /** Seconds since the last successful check (a 200 or 304, or a re-read), or since start if none succeeded. */
  ageSeconds: number
  lastSuccessAt: string | null
  lastCheckAt: string | null
  lastError: string | null
  stale: boolean
  records: number
}

/** Agreement on the list version between instances (see `redis.ts`). */
export interface VersionCoordinator {
  publish: (versionId: string) => Promise<void>
  /** Calls `listener` with versions other instances published. */
  subscribe: (listener: (versionId: string) => void) => Promise<void>
  close: () => Promise<void>
}

interface Logger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}
const silent: Logger = { info () {}, warn () {}, error () {} }

export interface ListManagerOptions<I> {
  sources: SourceConfig[]
  /** Builds the screening index of a version; called beside the serving one, which keeps serving until it returns. */
  buildIndex: (entries: SanctionsEntry[]) => I | Promise<I>
  /** `SANCTIONS_REFRESH_INTERVAL`; 0 disables the timer (refresh() still works). */
  refreshIntervalMs?: number
  /** `SANCTIONS_MAX_AGE`: URL sources not checked successfully for longer are stale. */
  maxAgeMs?: number
  /** `SANCTIONS_MIN_RATIO`: a new version with fewer records than this share of the previous is refused. */
  minRatio?: number
  fetch?: FetchLike
  logger?: Logger
  coordinator?: VersionCoordinator
  now?: () => number
}

interface SourceState {
  config: SourceConfig
  results: ReadResult[] | null
  datasets: DatasetInfo[]
  validators: Validators
  lastSuccessAt: number | null
  lastCheckAt: number | null
  lastError: string | null
  hash: string | null
}

export interface RefreshReport {
  changed: string[]
  unchanged: string[]
  failed: Array<{ id: string, error: string }>
  versionId: string
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

/**
 * Holds the current list version and refreshes it: each source is fetched (conditionally), read,
 * checked against the previous version, and a new index is built beside the serving one and swapped
 * in one assignment. A request that took `current()` keeps that version to its end.
 */
export class ListManager<I> {
  readonly #o: Required<Omit<ListManagerOptions<I>, 'coordinator'>> & { coordinator?: VersionCoordinator }
  readonly #states: SourceState[]
  readonly #listeners = new Set<(c: ListChange) => void | Promise<void>>()
  #current: ListVersion<I> | null = null
  #running: Promise<RefreshReport> | null = null
  #timer: NodeJS.Timeout | null = null
  readonly #startedAt: number

  constructor (o: ListManagerOptions<I>) {
    this.#o = { refreshIntervalMs: 3_600_000, maxAgeMs: 48 * 3_600_000, minRatio: 0.8, fetch: globalThis.fetch, logger: silent, now: Date.now, ...o }
    this.#states = o.sources.map((config) => ({ config, results: null, datasets: [], validators: {}, lastSuccessAt: null, lastCheckAt: null, lastError: null, hash: null }))
    this.#startedAt = this.#o.now()
  }

  /** Loads every source; a source that fails is reported and the others still load. Throws only when none loads. */
  async start (): Promise<RefreshReport> {
    const report = await this.refresh()
    if (this.#current === null || this.#states.every((s) => s.results === null)) {
      throw new DataError(`no sanctions list could be loaded: ${report.failed.map((f) => `${f.id}: ${f.error}`).join('; ')}`)
    }
    if (this.#o.coordinator !== undefined) {
      await this.#o.coordinator.subscribe((versionId) => {
        if (versionId === this.#current?.id) return
        this.#o.logger.info({ versionId, own: this.#current?.id }, 'another instance serves a different list version; re-fetching')
        void this.refresh({ force: true }).catch(() => {})
      })
      await this.#o.coordinator.publish(this.#current.id)
    }
    if (this.#o.refreshIntervalMs > 0) {
      this.#timer = setInterval(() => { void this.refresh().catch(() => {}) }, this.#o.refreshIntervalMs)
      this.#timer.unref()
    }
    return report
  }

  /** The serving version. Take it once per request and use only it. */
  current (): ListVersion<I> {
    if (this.#current === null) throw new Error('lists not loaded: call start() first')
    return this.#current
  }

  /** The ids of the configured sources. */
  sourceIds (): string[] { return this.#states.map((s) => s.config.id) }

  /**
   * What a source serves now: its entries and a fingerprint of its files (the SHA-256 of each dataset);
   * null when it has not loaded.
   */
  sourceSnapshot (sourceId: string): { fingerprint: string, entries: SanctionsEntry[] } | null {
    const s = this.#states.find((x) => x.config.id === sourceId)
    if (s === undefined || s.results === null) return null
    return { fingerprint: datasetsFingerprint(s.datasets), entries: s.results.flatMap((r) => r.entries) }
  }

  /** Subscribes to list changes (entries added, changed or removed in a source); returns the unsubscribe function. */
  onListChange (listener: (c: ListChange) => void | Promise<void>): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  status (): SourceStatus[] {
    const now = this.#o.now()
    return this.#states.map((s) => {
      const kind = s.config.url === undefined ? 'path' : 'url'
      const age = now - (s.lastSuccessAt ?? this.#startedAt)
      return {
        id: s.config.id,
        kind,
        ageSeconds: Math.round(age / 1000),
        lastSuccessAt: s.lastSuccessAt === null ? null : new Date(s.lastSuccessAt).toISOString(),
        lastCheckAt: s.lastCheckAt === null ? null : new Date(s.lastCheckAt).toISOString(),
        lastError: s.lastError,
        stale: kind === 'url' && age > this.#o.maxAgeMs,
        records: s.datasets.reduce((n, d) => n + d.records, 0)
      }
    })
  }

  /** The sources past `SANCTIONS_MAX_AGE`. */
  staleSources (): SourceStatus[] {
    return this.status().filter((s) => s.stale)
  }

  /** Checks every source once; concurrent calls share one run. `force` ignores the validators (a full re-fetch). */
  async refresh (o: { force?: boolean } = {}): Promise<RefreshReport> {
    this.#running ??= this.#refresh(o.force === true).finally(() => { this.#running = null })
    return await this.#running
  }

  async #refresh (force: boolean): Promise<RefreshReport> {
    const report: RefreshReport = { changed: [], unchanged: [], failed: [], versionId: this.#current?.id ?? '' }
    const changes: Array<{ state: SourceState, previous: ReadResult[] | null, previousDatasets: DatasetInfo[] }> = []
    for (const s of this.#states) {
      s.lastCheckAt = this.#o.now()
      try {
        const fetched = await fetchSource(s.config, force ? {} : s.validators, this.#o.fetch)
        if (fetched.notModified) {
          s.validators = fetched.validators
          s.lastSuccessAt = this.#o.now()
          s.lastError = null
          report.unchanged.push(s.config.id)
          continue
        }
        const hash = sha256(fetched.files.map((f) => `${f.name}:${sha256(f.bytes)}`).join('\n'))
        if (s.results !== null && hash === s.hash) {
          s.validators = fetched.validators
          s.lastSuccessAt = this.#o.now()
          s.lastError = null
          report.unchanged.push(s.config.id)
          continue
        }
        const results = await readFiles(fetched.files, s.config.format)
        const records = results.reduce((n, r) => n + r.entries.length, 0)
        const before = s.results?.reduce((n, r) => n + r.entries.length, 0) ?? 0
        if (records === 0) throw new DataError(`${fetched.files[0]?.name ?? s.config.id}: no entries`)
        if (s.results !== null && records < before * this.#o.minRatio) {
          throw new DataError(`${fetched.files[0]?.name ?? s.config.id}: ${records} records against ${before} before (below SANCTIONS_MIN_RATIO ${this.#o.minRatio}); suspected truncated list, previous version kept`)
        }
        const fetchedAt = new Date(this.#o.now()).toISOString()
        const note = await this.#note(s.config)
        changes.push({ state: s, previous: s.results, previousDatasets: s.datasets })
        s.results = results
        s.datasets = results.map((r) => datasetOf(s.config, r, fetched.files, fetchedAt, note))
        s.hash = hash
        s.validators = fetched.validators
        s.lastSuccessAt = this.#o.now()
        s.lastError = null
        report.changed.push(s.config.id)
      } catch (err) {
        const message = (err as Error).message
        s.lastError = message
        report.failed.push({ id: s.config.id, error: message })
        this.#o.logger.error({ source: s.config.id, err: message }, 'sanctions list refresh failed; the previous version keeps serving')
      }
    }
    if (changes.length === 0 && this.#current !== null) return report
    const version = await this.#build()
    const previous = this.#current
    this.#current = version
    report.versionId = version.id
    this.#o.logger.info({ versionId: version.id, changed: report.changed, datasets: version.datasets.map((d) => `${d.sourceId} ${d.source} ${d.records}`) }, 'sanctions lists swapped')
    if (previous !== null) {
      for (const c of changes) {
        const delta = await diffEntriesSliced(c.previous?.flatMap((r) => r.entries) ?? [], c.state.results?.flatMap((r) => r.entries) ?? [])
        const event: ListChange = { sourceId: c.state.config.id, previous: c.previousDatasets, current: c.state.datasets, versionId: version.id, ...delta }
        for (const l of this.#listeners) {
          try {
            await l(event)
          } catch (err) {
            this.#o.logger.error({ source: event.sourceId, err: (err as Error).message }, 'a list change listener failed')
          }
        }
      }
      this.#o.logger.info({ versionId: version.id, changed: report.changed }, 'list change handled (re-screening done)')
      await this.#o.coordinator?.publish(version.id).catch((err: unknown) => { this.#o.logger.warn({ err: (err as Error).message }, 'could not publish the list version') })
    }
    return report
  }

  async #build (): Promise<ListVersion<I>> {
    const loaded = this.#states.filter((s) => s.results !== null)
    const entries = loaded.flatMap((s) => (s.results as ReadResult[]).flatMap((r) => r.entries))
    const datasets = loaded.flatMap((s) => s.datasets)
    const index = await this.#o.buildIndex(entries)
    return { id: sha256(datasets.map((d) => `${d.sourceId}:${d.source}:${d.sha256}`).join('\n')), index, datasets, builtAt: new Date(this.#o.now()).toISOString() }
  }

  async #note (s: SourceConfig): Promise<string | undefined> {
    if (s.path === undefined || s.format !== 'ofac-csv') return undefined
    try {
      const meta = JSON.parse(await readFile(join(s.path, 'dataset.json'), 'utf8')) as { note?: unknown }
      return typeof meta.note === 'string' ? meta.note : undefined
    } catch {
      return undefined
    }
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#o.coordinator?.close()
  }
}

/** One source's list as a fingerprint: the SHA-256 of each of its datasets. */
export function datasetsFingerprint (datasets: readonly DatasetInfo[]): string {
  return sha256(datasets.map((d) => `${d.source}:${d.sha256}`).join('\n'))
}

function datasetOf (src: SourceConfig, r: ReadResult, files: ListFile[], fetchedAt: string, note: string | undefined): DatasetInfo {
  const main = r.format === 'ofac-csv'
    ? files.find((f) => f.name.toLowerCase() === (r.source === 'OFAC-CONS' ? 'cons_prim.csv' : 'sdn.csv')) ?? files[0]
    : files[0]
  return {
    sourceId: src.id,
    source: r.source,
    format: r.format,
    file: main?.name ?? src.id,
    publishedAt: r.publishedAt,
    ...(r.publishedAt === null ? {} : { fileDate: r.publishedAt }),
    fetchedAt,
    sha256: sha256(main?.bytes ?? ''),
    records: r.entries.length,
    ...(note === undefined ? {} : { note })
  }
}
