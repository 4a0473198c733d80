import { EventEmitter } from 'node:events'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CountryRiskLists } from './domain/countries.js'
import { ListManager, sourcesOfDir, type VersionCoordinator } from './lists/index.js'
import { buildScreeningIndex, type ServingIndex } from './screening/serving.js'
import { startServiceRescreening } from './alerts.js'
import { ConfigError, DEFAULT_DATA_DIR, type Config } from './config.js'
import { RecordsStore } from './records/store.js'
import type { Services } from './tools/index.js'

export { buildScreeningIndex, type ServingIndex } from './screening/serving.js'

/** Opens the records store for a configuration (PostgreSQL with DATABASE_URL, else embedded in DATA_DIR). */
export async function openRecords (config: Pick<Config, 'DATABASE_URL' | 'dataDir' | 'AUDIT_SIGNING_KEY_FILE' | 'RETENTION_YEARS'>, o: { mirrorFile?: string | undefined, onMirrorError?: (err: unknown) => void } = {}): Promise<RecordsStore> {
  // A file where the data folder should be is a configuration mistake: name the variable, not ENOTDIR deep in the store.
  const info = await stat(config.dataDir).catch(() => null)
  if (info !== null && !info.isDirectory()) throw new ConfigError(`invalid DATA_DIR: ${config.dataDir} is not a directory`)
  return await RecordsStore.open({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir, signingKeyFile: config.AUDIT_SIGNING_KEY_FILE, retentionYears: config.RETENTION_YEARS, ...o })
}

type ListsConfig = Pick<Config, 'SANCTIONS_DATA_DIR' | 'DATABASE_URL' | 'dataDir' | 'AUDIT_SIGNING_KEY_FILE' | 'RETENTION_YEARS'> & Partial<Pick<Config, 'AUDIT_LOG_FILE'>> & Partial<Pick<Config, 'sanctionsSources' | 'SANCTIONS_REFRESH_INTERVAL' | 'SANCTIONS_MAX_AGE' | 'SANCTIONS_MIN_RATIO' | 'REDIS_URL'>>

interface Logger { info: (o: object, m: string) => void, warn: (o: object, m: string) => void, error: (o: object, m: string) => void }

/** Loads the lists (and keeps them refreshed), builds the index and opens the records store. */
export async function createServices (config: ListsConfig, o: { logger?: Logger, coordinator?: VersionCoordinator, now?: () => number } = {}): Promise<Services & { sourcesChanged: () => void }> {
  const sources = config.sanctionsSources ?? await sourcesOfDir(config.SANCTIONS_DATA_DIR)
  let coordinator = o.coordinator
  if (coordinator === undefined && config.REDIS_URL !== undefined) {
    const { createRedisCoordinator } = await import('./lists/redis.js')
    coordinator = createRedisCoordinator(config.REDIS_URL)
  }
  const lists = new ListManager<ServingIndex>({
    sources,
    buildIndex: buildScreeningIndex,
    refreshIntervalMs: config.SANCTIONS_REFRESH_INTERVAL ?? 3_600_000,
    maxAgeMs: config.SANCTIONS_MAX_AGE ?? 48 * 3_600_000,
    minRatio: config.SANCTIONS_MIN_RATIO ?? 0.8,
    ...(o.logger === undefined ? {} : { logger: o.logger }),
    ...(coordinator === undefined ? {} : { coordinator }),
    ...(o.now === undefined ? {} : { now: o.now })
  })
  // The records store first: a bad DATA_DIR is the one line a failed start prints.
  const records = await openRecords(config, {
    mirrorFile: config.AUDIT_LOG_FILE,
    onMirrorError: (err) => { o.logger?.error({ err: (err as Error).message, file: config.AUDIT_LOG_FILE }, 'the AUDIT_LOG_FILE mirror could not be written (retried; the records store keeps every record)') }
  })
  if (records.mirror?.quarantined != null) o.logger?.warn({ file: config.AUDIT_LOG_FILE, quarantined: records.mirror.quarantined }, 'AUDIT_LOG_FILE ended in a torn line (a crash mid-write): moved aside, the file continues from the records store')
  await lists.start()
  const changes = new EventEmitter()
  lists.onListChange(() => { changes.emit('sources') })
  startServiceRescreening(lists, records, o.logger)
  const riskFile = config.SANCTIONS_DATA_DIR === DEFAULT_DATA_DIR ? join(DEFAULT_DATA_DIR, 'country-risk.json') : await pickRiskFile(config.SANCTIONS_DATA_DIR)
  return {
    // Getters keep `screening` and `datasets` on the serving version for code that reads them directly.
    get screening () { return lists.current().index },
    get datasets () { return lists.current().datasets },
    lists,
    risk: await CountryRiskLists.load(riskFile),
    records,
    onSourcesChanged: (listener) => {
      changes.on('sources', listener)
      return () => { changes.off('sources', listener) }
    },
    // Called by whatever swaps `datasets` (a list refresh).
    sourcesChanged: () => { changes.emit('sources') }
  }
}

/** A custom data folder may carry its own country-risk.json; otherwise the shipped one is used. */
async function pickRiskFile (dir: string): Promise<string> {
  const { access } = await import('node:fs/promises')
  const own = join(dir, 'country-risk.json')
  return await access(own).then(() => own, () => join(DEFAULT_DATA_DIR, 'country-risk.json'))
}

