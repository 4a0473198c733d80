import { join } from 'node:path'
import { AuditLog } from './domain/audit.js'
import { MemoryCaseStore } from './domain/cases.js'
import { CountryRiskLists, sameCountry } from './domain/countries.js'
import { ScreeningIndex } from './domain/matching.js'
import type { SanctionsEntry } from './domain/types.js'
import { ListManager, sourcesOfDir, type VersionCoordinator } from './lists/index.js'
import { DEFAULT_DATA_DIR, type Config } from './config.js'
import type { Services } from './tools/index.js'

export type ServingIndex = ScreeningIndex & { recordCount: () => number }

/** The one place a screening index is made from entries: the list refresh builds each new version with it. */
export function buildScreeningIndex (entries: SanctionsEntry[]): ServingIndex {
  const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
  return Object.assign(index, { recordCount: () => index.size })
}

type ListsConfig = Pick<Config, 'SANCTIONS_DATA_DIR' | 'AUDIT_LOG_FILE'> & Partial<Pick<Config, 'sanctionsSources' | 'SANCTIONS_REFRESH_INTERVAL' | 'SANCTIONS_MAX_AGE' | 'SANCTIONS_MIN_RATIO' | 'REDIS_URL'>>

interface Logger { info: (o: object, m: string) => void, warn: (o: object, m: string) => void, error: (o: object, m: string) => void }

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 } as const

/** JSON lines on stderr, in the shape of Fastify's logger, for list events that happen outside a request. */
export function stderrLogger (level: keyof typeof LEVELS = 'info'): Logger {
  const at = (lvl: 'info' | 'warn' | 'error') => (o: object, msg: string): void => {
    if (LEVELS[lvl] >= LEVELS[level]) process.stderr.write(`${JSON.stringify({ level: LEVELS[lvl], time: Date.now(), component: 'lists', ...o, msg })}\n`)
  }
  return { info: at('info'), warn: at('warn'), error: at('error') }
}

/** Loads the lists (and keeps them refreshed), builds the index and opens the audit log. */
export async function createServices (config: ListsConfig, o: { logger?: Logger, coordinator?: VersionCoordinator, now?: () => number } = {}): Promise<Services> {
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
  await lists.start()
  const riskFile = config.SANCTIONS_DATA_DIR === DEFAULT_DATA_DIR ? join(DEFAULT_DATA_DIR, 'country-risk.json') : await pickRiskFile(config.SANCTIONS_DATA_DIR)
  return {
    // Getters keep `screening` and `datasets` on the serving version for code that reads them directly.
    get screening () { return lists.current().index },
    get datasets () { return lists.current().datasets },
    lists,
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
