// The index returns exactly what a full scan with the same scorer returns (a silent false negative
// is the worst bug a screening service can have), and a lower threshold never loses a hit.
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { sameCountry } from '../src/domain/countries.js'
import { loadDataDir } from '../src/domain/loaders.js'
import { ScreeningIndex, type ScreenQuery, type ScreeningHit } from '../src/screening/index.js'
import { EDITS, edit, listedName, prng } from '../bench/queries.js'

const full = process.env.OFAC_FULL_DIR ?? join(DEFAULT_DATA_DIR, '../../../../shared/data/ofac-sdn-2021')
const dir = existsSync(join(full, 'sdn.csv')) ? full : DEFAULT_DATA_DIR
const samples = Number(process.env.SCREENING_PROPERTY_SAMPLES ?? 120)
t.setTimeout(Number(process.env.SCREENING_PROPERTY_TIMEOUT ?? 300_000))
const { entries } = await loadDataDir(dir)
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
const rand = prng(Number(process.env.SCREENING_PROPERTY_SEED ?? 12))
const THRESHOLDS = [0.5, 0.7, 0.8, 0.86, 0.9, 0.95]
const COUNTRIES = ['Iran', 'Cuba', 'RU', 'Colombia', 'Syria', 'DE']

const key = (hits: ScreeningHit[]): string[] => hits.map((h) => `${h.source}:${h.id}=${h.score}`)

function query (): ScreenQuery {
  const { entry, name } = listedName(entries, rand)
  let q = edit(name, EDITS[rand(EDITS.length)] ?? 'case', rand)
  if (rand(4) === 0) q = edit(q, EDITS[rand(EDITS.length)] ?? 'case', rand)
  const out: ScreenQuery = { name: q, threshold: THRESHOLDS[rand(THRESHOLDS.length)], limit: 1000 }
  if (rand(5) === 0) out.birthDate = entry.birthDates[0] ?? '1970'
  if (rand(5) === 0) out.country = COUNTRIES[rand(COUNTRIES.length)]
  if (rand(8) === 0) out.nationality = COUNTRIES[rand(COUNTRIES.length)]
  if (rand(6) === 0) out.includeWeakAliases = true
  if (rand(8) === 0) out.type = 'individual'
  return out
}

t.test(`index = brute force on ${samples} generated queries over ${entries.length} entries (${dir})`, async (t) => {
  let nonEmpty = 0
  for (let i = 0; i < samples; i++) {
    const q = query()
    const fast = index.screen(q)
    const slow = index.screenBruteForce(q)
    if (slow.length > 0) nonEmpty++
    t.same(key(fast), key(slow), JSON.stringify(q))
  }
  t.ok(nonEmpty > samples / 2, `most queries have hits (${nonEmpty}/${samples}): the comparison is not vacuous`)
})

t.test('a lower threshold never loses a hit that a higher one returns', async (t) => {
  for (let i = 0; i < samples / 4; i++) {
    const q = query()
    const high = index.screen({ ...q, threshold: 0.9 })
    const low = new Set(key(index.screen({ ...q, threshold: 0.75 })))
    const lost = key(high).filter((k) => !low.has(k))
    t.same(lost, [], q.name)
  }
})

t.test('the issue\'s one-letter typos come back at the default threshold with the score they have at 0.5', async (t) => {
  for (const [name, id] of [['Banco Nacional de Cuva', '306'], ['Slying Dragon', '28183'], ['Aerocaribbean Acrlines', '36'], ['Mombaz Electric', '25900']] as const) {
    const low = index.screen({ name, threshold: 0.5 }).find((h) => h.id === id)
    const def = index.screen({ name }).find((h) => h.id === id)
    if (dir !== full) { t.pass('full list not present'); continue }
    t.ok(low !== undefined, `${name} found at 0.5`)
    t.same(def?.score, low?.score, `${name} at the default threshold`)
  }
})

t.test('the index built in slices (list refresh) answers exactly as the one built at once, and leaves the event loop free while it builds', async (t) => {
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  const sliced = await ScreeningIndex.build(entries, { countryMatches: sameCountry }, 2)
  clearInterval(timer)
  t.ok(ticks > 0, `timers ran during the build (${ticks})`)
  t.equal(sliced.size, index.size)
  t.equal(sliced.nameCount, index.nameCount)
  for (let i = 0; i < samples / 2; i++) {
    const q = query()
    t.same(key(sliced.screen(q)), key(index.screen(q)), JSON.stringify(q))
  }
})
