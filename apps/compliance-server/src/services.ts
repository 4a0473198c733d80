import { join } from 'node:path'
import { AuditLog } from './domain/audit.js'
import { MemoryCaseStore } from './domain/cases.js'
import { CountryRiskLists, sameCountry } from './domain/countries.js'
import { loadDataDir } from './domain/loaders.js'
import { ScreeningIndex } from './screening/index.js'
import { DEFAULT_DATA_DIR, type Config } from './config.js'
import type { Services } from './tools/index.js'

/** Loads the lists, builds the index and opens the audit log. */
export async function createServices (config: Pick<Config, 'SANCTIONS_DATA_DIR' | 'AUDIT_LOG_FILE'>): Promise<Services> {
  const { entries, datasets } = await loadDataDir(config.SANCTIONS_DATA_DIR)
  const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
  const screening = Object.assign(index, { recordCount: () => index.size })
  const riskFile = config.SANCTIONS_DATA_DIR === DEFAULT_DATA_DIR ? join(DEFAULT_DATA_DIR, 'country-risk.json') : await pickRiskFile(config.SANCTIONS_DATA_DIR)
  return {
    screening,
    datasets,
    risk: await CountryRiskLists.load(riskFile),
    cases: new MemoryCaseStore(),
    audit: await AuditLog.open(config.AUDIT_LOG_FILE),
    auditFile: config.AUDIT_LOG_FILE
  }
}

/** A custom data folder may carry its own country-risk.json; otherwise the shipped one is used. */
async function pickRiskFile (dir: string): Promise<string> {
  const { access } = await import('node:fs/promises')
  const own = join(dir, 'country-risk.json')
  return await access(own).then(() => own, () => join(DEFAULT_DATA_DIR, 'country-risk.json'))
}
