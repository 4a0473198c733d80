import t from 'tap'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { DEFAULT_THRESHOLD, type ScreeningHit } from '../src/screening/index.js'
import type { SanctionsEntry } from '../src/domain/types.js'
import { diffEntries, ListManager, startRescreening, type NewHits, type RescreenSubject } from '../src/lists/index.js'
import { buildScreeningIndex, type ServingIndex } from '../src/services.js'
import { until } from './helpers/wait.js'

const entry = (id: string, name: string): SanctionsEntry => ({ source: 'UN', id, name, type: 'individual', programs: [], countries: [], birthDates: [], aliases: [], identifiers: [] })

/** The shipped UN sample as a path source in a temp folder, loaded. */
async function unList (): Promise<{ un: string, path: string, m: ListManager<ServingIndex> }> {
  const un = await readFile(join(DEFAULT_DATA_DIR, 'un-sample', 'consolidated.sample.xml'), 'utf8')
  const dir = await mkdtemp(join(tmpdir(), 'rescreen-'))
  const path = join(dir, 'un.xml')
  await writeFile(path, un)
  const m = new ListManager({ sources: [{ id: 'un', format: 'auto', path }], buildIndex: buildScreeningIndex, refreshIntervalMs: 0 })
  await m.start()
  return { un, path, m }
}

t.test('the delta between two versions, entries identified by source and id', async (t) => {
  const a = [entry('1', 'A'), entry('2', 'B'), entry('3', 'C'), { ...entry('4', 'D'), source: 'EU' }]
  const b = [entry('1', 'A'), entry('2', 'B2'), { ...entry('4', 'D'), source: 'UK' }, entry('5', 'E')]
  const d = diffEntries(a, b)
  t.same(d.added.map((e) => `${e.source}:${e.id}`), ['UK:4', 'UN:5'])
  t.same(d.changed.map((e) => e.name), ['B2'])
  t.same(d.changedBefore.map((e) => e.name), ['B'])
  t.same(d.removed.map((e) => `${e.source}:${e.id}`), ['UN:3', 'EU:4'])
  t.same(diffEntries(a, a), { added: [], changed: [], changedBefore: [], removed: [] })
})

t.test('a new list version re-screens the watchlist against the delta only and raises exactly the new hits', async (t) => {
  const { un, path, m } = await unList()
  const watched: RescreenSubject[] = [
    { customerRef: 'c-added', subject: { name: 'Zebediah Quortleby' } },
    { customerRef: 'c-changed', subject: { name: 'Marvin Estragon' } },
    { customerRef: 'c-already', subject: { name: 'Jo Chol Song' } },
    { customerRef: 'c-clean', subject: { name: 'Anna Schmidt' } }
  ]
  t.equal(m.current().index.screen({ name: 'Jo Chol Song' })[0]?.id, 'KPi.058', 'c-already hits KPi.058 before the change')
  const alerts: Array<NewHits<ScreeningHit>> = []
  const stop = startRescreening(m, { subjects: async () => watched, buildIndex: buildScreeningIndex, threshold: DEFAULT_THRESHOLD, openAlert: async (h) => { alerts.push(h) } })
  t.teardown(stop)

  const next = un
    .replace('<INDIVIDUALS>', '<INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>ZEBEDIAH</FIRST_NAME><SECOND_NAME>QUORTLEBY</SECOND_NAME><UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.999</REFERENCE_NUMBER></INDIVIDUAL>')
    .replace('<ALIAS_NAME>Cho Ch’o’l-so’ng</ALIAS_NAME>', '<ALIAS_NAME>Cho Ch’o’l-so’ng</ALIAS_NAME></INDIVIDUAL_ALIAS><INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>MARVIN ESTRAGON</ALIAS_NAME>')
  t.not(next, un)
  await writeFile(path, next)
  const report = await m.refresh()
  t.same(report.changed, ['un'])
  t.same(alerts.map((a) => [a.subject.customerRef, ...a.hits.map((h) => `${h.source} ${h.id}`)]).sort(), [['c-added', 'UN KPi.999'], ['c-changed', 'UN KPi.058']])
  t.ok(alerts.every((a) => a.versionId === m.current().id && a.sourceId === 'un'), 'each names the list version that caused it')

  // The same version again, or a change that brings nothing new for anyone: no alert.
  await m.refresh()
  await writeFile(path, next.replace('<FIRST_NAME>JO</FIRST_NAME>', '<FIRST_NAME>JO</FIRST_NAME><THIRD_NAME>X</THIRD_NAME>').replace('KPi.999', 'KPi.998'))
  await m.refresh()
  t.same(alerts.slice(2).map((a) => [a.subject.customerRef, ...a.hits.map((h) => h.id)]), [['c-added', 'KPi.998']], 'only the entry new by id is new')
  await m.close()
})

t.test('a re-screening that fails (records store down) is retried until it succeeds', async (t) => {
  const { un, path, m } = await unList()
  let down = 3
  const errors: string[] = []
  const alerts: Array<NewHits<ScreeningHit>> = []
  const stop = startRescreening(m, {
    subjects: async () => {
      if (down-- > 0) throw new Error('records store unreachable')
      return [{ customerRef: 'c-1', subject: { name: 'Zebediah Quortleby' } }]
    },
    buildIndex: buildScreeningIndex,
    threshold: DEFAULT_THRESHOLD,
    openAlert: async (h) => { alerts.push(h) },
    onError: (err) => { errors.push((err as Error).message) },
    retryMs: 10
  })
  t.teardown(stop)
  await writeFile(path, un.replace('<INDIVIDUALS>', '<INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>ZEBEDIAH</FIRST_NAME><SECOND_NAME>QUORTLEBY</SECOND_NAME><UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.999</REFERENCE_NUMBER></INDIVIDUAL>'))
  await m.refresh()
  t.same(alerts, [], 'the first attempt failed')
  t.ok(await until(() => alerts.length > 0, 5_000, 10), 'a retry raised the alert')
  t.same(errors, ['records store unreachable', 'records store unreachable', 'records store unreachable'], 'each failed attempt reported')
  t.same(alerts.map((a) => [a.subject.customerRef, a.hits[0]?.id, a.versionId]), [['c-1', 'KPi.999', m.current().id]], 'once, naming the version that caused it')
  await m.close()
})

t.test('with baselines: a re-screening cut short is done at the next start, from the list last re-screened', async (t) => {
  const { un, path, m } = await unList()
  const saved = new Map<string, { fingerprint: string, entries: SanctionsEntry[] }>()
  const baselines = {
    fingerprint: async (id: string) => saved.get(id)?.fingerprint ?? null,
    load: async (id: string) => saved.get(id) ?? null,
    save: async (id: string, fingerprint: string, entries: readonly SanctionsEntry[]) => { saved.set(id, { fingerprint, entries: [...entries] }) }
  }
  const subjects = async (): Promise<RescreenSubject[]> => [{ customerRef: 'c-1', subject: { name: 'Zebediah Quortleby' } }]
  let checked = 0
  const first = startRescreening(m, { subjects, buildIndex: buildScreeningIndex, threshold: DEFAULT_THRESHOLD, openAlert: async () => { throw new Error('the process dies here') }, baselines, onStartChecked: () => { checked++ }, retryMs: 3_600_000 })
  t.ok(await until(() => checked === 1), 'the first start checked its source')
  t.equal(saved.size, 1, 'no baseline yet: the list as loaded becomes one, nothing is re-screened')
  const baseline = saved.get('un')?.fingerprint
  await writeFile(path, un.replace('<INDIVIDUALS>', '<INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>ZEBEDIAH</FIRST_NAME><SECOND_NAME>QUORTLEBY</SECOND_NAME><UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.999</REFERENCE_NUMBER></INDIVIDUAL>'))
  await m.refresh()
  t.equal(saved.get('un')?.fingerprint, baseline, 'the re-screening failed: the baseline did not move')
  first()
  await m.close()

  // "Restarted": a new manager on the changed file, the same baselines.
  const again = new ListManager({ sources: [{ id: 'un', format: 'auto', path }], buildIndex: buildScreeningIndex, refreshIntervalMs: 0 })
  await again.start()
  const alerts: Array<NewHits<ScreeningHit>> = []
  const resumed: Array<{ added: number, changed: number }> = []
  const second = startRescreening(again, { subjects, buildIndex: buildScreeningIndex, threshold: DEFAULT_THRESHOLD, openAlert: async (h) => { alerts.push(h) }, baselines, onResume: (_id, d) => { resumed.push(d) }, onStartChecked: () => { checked++ } })
  t.teardown(second)
  t.ok(await until(() => checked === 2))
  t.same(resumed, [{ added: 1, changed: 0 }])
  t.same(alerts.map((a) => [a.subject.customerRef, a.hits[0]?.id, a.versionId]), [['c-1', 'KPi.999', again.current().id]])
  t.not(saved.get('un')?.fingerprint, baseline, 'done: the baseline moved to the list re-screened')
  await again.close()
})
