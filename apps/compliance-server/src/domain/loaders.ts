// Kept for the callers of the former loader: the readers live in `src/lists/`.
import { basename } from 'node:path'
import { ListManager, sourcesOfDir } from '../lists/index.js'
import type { DatasetInfo, SanctionsEntry } from './types.js'

export { DataError, parseDob, parseRemarks } from '../lists/index.js'

async function load (sources: Awaited<ReturnType<typeof sourcesOfDir>>): Promise<{ entries: SanctionsEntry[], datasets: DatasetInfo[] }> {
  const m = new ListManager({ sources, buildIndex: (entries) => entries, refreshIntervalMs: 0 })
  const report = await m.start()
  if (report.failed.length > 0) throw new (await import('../lists/index.js')).DataError(report.failed.map((f) => f.error).join('; '))
  return { entries: m.current().index, datasets: m.current().datasets }
}

/** Loads every list found in a folder (see `sourcesOfDir`); any unreadable file is an error here. */
export async function loadDataDir (dir: string): Promise<{ entries: SanctionsEntry[], datasets: DatasetInfo[] }> {
  return await load(await sourcesOfDir(dir))
}

/** Loads the OFAC legacy CSV set of a folder. */
export async function loadOfac (dir: string): Promise<{ entries: SanctionsEntry[], dataset: DatasetInfo }> {
  const { entries, datasets } = await load([{ id: basename(dir), format: 'ofac-csv', path: dir }])
  return { entries, dataset: datasets[0] as DatasetInfo }
}
