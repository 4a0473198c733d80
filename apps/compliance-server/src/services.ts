import { EventEmitter } from 'node:events'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CountryRiskLists, sameCountry } from './domain/countries.js'
import { loadDataDir } from './domain/loaders.js'
import { ScreeningIndex } from './domain/matching.js'
import { RecordsStore } from './records/store.js'
import { ConfigError, DEFAULT_DATA_DIR, type Config } from './config.js'
import type { Services } from './tools/index.js'

/** Opens the records store for a configuration (PostgreSQL with DATABASE_URL, else embedded in DATA_DIR). */
export async function openRecords (config: Pick<Config, 'DATABASE_URL' | 'dataDir' | 'AUDIT_SIGNING_KEY_FILE' | 'RETENTION_YEARS'>): Promise<RecordsStore> {
  // A file where the data folder should be is a configuration mistake: name the variable, not ENOTDIR deep in the store.
  const info = await stat(config.dataDir).catch(() => null)
  if (info !== null && !info.isDirectory()) throw new ConfigError(`invalid DATA_DIR: ${config.dataDir} is not a directory`)
  return await RecordsStore.open({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir, signingKeyFile: config.AUDIT_SIGNING_KEY_FILE, retentionYears: config.RETENTION_YEARS })
}

/** Loads the lists, builds the index and opens the records store. */
export async function createServices (config: Pick<Config, 'SANCTIONS_DATA_DIR' | 'DATABASE_URL' | 'dataDir' | 'AUDIT_SIGNING_KEY_FILE' | 'RETENTION_YEARS'>): Promise<Services & { sourcesChanged: () => void }> {
  const { entries, datasets } = await loadDataDir(config.SANCTIONS_DATA_DIR)
  const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
  const screening = Object.assign(index, { recordCount: () => index.size })
  const changes = new EventEmitter()
  const riskFile = config.SANCTIONS_DATA_DIR === DEFAULT_DATA_DIR ? join(DEFAULT_DATA_DIR, 'country-risk.json') : await pickRiskFile(config.SANCTIONS_DATA_DIR)
  return {
    screening,
    datasets,
    risk: await CountryRiskLists.load(riskFile),
    records: await openRecords(config),
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

