import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ALL_SCOPES } from '../../src/auth.js'
import { DEFAULT_DATA_DIR } from '../../src/config.js'
import { RecordsStore } from '../../src/records/store.js'
import { until } from '../helpers/wait.js'
import { freshDatabase, tempDir } from './helpers.js'
import { RpcSession, startInstance, token } from './process.js'

// A designation added to the list while the service runs: the customers under watch and the
// subjects of stored alerts are re-screened against the change, on two instances of one database.
const UN = await readFile(join(DEFAULT_DATA_DIR, 'un-sample', 'consolidated.sample.xml'), 'utf8')
const individual = (ref: string, first: string, second: string): string =>
  `<INDIVIDUAL><DATAID>${ref}</DATAID><FIRST_NAME>${first}</FIRST_NAME><SECOND_NAME>${second}</SECOND_NAME><UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>${ref}</REFERENCE_NUMBER></INDIVIDUAL>`
const withEntries = (...entries: string[]): string => UN.replace('<INDIVIDUALS>', `<INDIVIDUALS>${entries.join('')}`)

interface AlertRow { alertId: string, subject: Record<string, unknown>, bestHit?: { source: string, id: string }, hits: number }

t.test('watch_subject / unwatch_subject, and a list change raising exactly the new alerts once across instances', async (t) => {
  const DATABASE_URL = await freshDatabase(t)
  const dir = await tempDir(t)
  const listFile = join(dir, 'un.xml')
  await writeFile(listFile, UN)
  const env = {
    DATABASE_URL,
    DATA_DIR: dir,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    SANCTIONS_SOURCES: JSON.stringify([{ id: 'un', format: 'auto', path: listFile }]),
    SANCTIONS_REFRESH_INTERVAL: '1s'
  }
  const [a, b] = await Promise.all([startInstance(t, env), startInstance(t, env)])
  const alice = new RpcSession(a.url, await token('alice', [...ALL_SCOPES]))
  const bob = new RpcSession(b.url, await token('bob', [...ALL_SCOPES]))
  await alice.open()
  await bob.open()

  // A customer under watch who hits nothing today, and a screening that opened an alert.
  const watched = await alice.call('watch_subject', { customerRef: 'CUST-7', name: 'Zebediah Quortleby', type: 'individual' })
  t.match(watched, { customerRef: 'CUST-7', subject: { name: 'Zebediah Quortleby', type: 'individual' }, watchedBy: 'alice', replaced: false })
  t.match(await alice.call('watch_subject', { customerRef: 'CUST-7', name: 'Zebediah Quortleby', type: 'individual' }), { replaced: true }, 'watching again replaces')
  await alice.call('watch_subject', { customerRef: 'CUST-8', name: 'Anna Schmidt' })
  t.equal(((await alice.call('screen_sanctions', { name: 'Zebediah Quortleby' })).hits as unknown[]).length, 0, 'no hit before the change')
  const screened = await bob.call('screen_sanctions', { name: 'Jo Chol Song' })
  const screenedAlert = screened.alertId as string
  t.match(screened, { hits: [{ source: 'UN', id: 'KPi.058' }] })
  await t.rejects(bob.call('unwatch_subject', { customerRef: 'NOPE' }), /no watched customer "NOPE"/, 'unknown customerRef: a clear error')
  await t.rejects(bob.call('watch_subject', { name: 'No Ref' }), /customerRef/, 'customerRef is required')
  await t.rejects(bob.call('watch_subject', { customerRef: 'CUST-9', name: 'X', birthDate: '31/12/1970' }), /YYYY-MM-DD/, 'the subject fields are validated like screen_sanctions')

  const queue = async (): Promise<AlertRow[]> => (await bob.call('list_alerts', { limit: 200 })).alerts as AlertRow[]
  const before = (await queue()).length

  // The new list: Zebediah is designated, and a second entry under Jo Chol Song's name appears.
  await writeFile(listFile, withEntries(individual('KPi.999', 'ZEBEDIAH', 'QUORTLEBY'), individual('KPi.997', 'JO', 'CHOL SONG')))
  // Each instance logs when it has handled a list change, re-screening included.
  const handled = (n: number): (() => boolean) => () => [a, b].every((i) => i.stdout().split('list change handled').length - 1 >= n)
  t.ok(await until(handled(1), 20_000, 50), 'both instances handled the change')
  t.ok(await until(async () => (await queue()).length >= before + 2, 20_000, 200), 'the change raised alerts')
  const raised = (await queue()).slice(before)
  t.same(raised.map((r) => [r.subject.customerRef ?? r.subject.rescreenOf, r.bestHit?.id]).sort(), [[screenedAlert, 'KPi.997'], ['CUST-7', 'KPi.999']].sort(),
    'exactly the new hits: one alert per subject, opened once although both instances saw the change; Anna Schmidt and the old KPi.058 hit raise nothing')
  const listVersion = (await alice.call('list_sources', {})).listVersion as string
  const watchAlert = raised.find((r) => r.subject.customerRef === 'CUST-7') as AlertRow
  const kase = await alice.call('get_case', { alertId: watchAlert.alertId })
  t.match(kase, { case: { alert: { tool: 'rescreen', state: 'open', openedBy: { subject: 'system:rescreen' }, algorithm: { listVersion }, hits: [{ source: 'UN', id: 'KPi.999', explanation: {} }] } } },
    'the alert carries its evidence, the caller system:rescreen and the list version that caused it')

  // Unwatched: the next designation of the same name raises an alert only for the stored alert's subject.
  t.same(await alice.call('unwatch_subject', { customerRef: 'CUST-7' }).then(({ audit: _a, ...r }) => r), { customerRef: 'CUST-7', removed: true })
  await writeFile(listFile, withEntries(individual('KPi.999', 'ZEBEDIAH', 'QUORTLEBY'), individual('KPi.997', 'JO', 'CHOL SONG'), individual('KPi.996', 'ZEBEDIAH', 'QUORTLEBEY')))
  t.ok(await until(handled(2), 20_000, 50), 'both instances handled the second change')
  t.ok(await until(async () => (await queue()).length >= before + 3, 20_000, 200))
  const third = (await queue()).slice(before + 2)
  t.same(third.map((r) => [r.subject.customerRef ?? null, r.subject.rescreenOf, r.bestHit?.id]), [[null, watchAlert.alertId, 'KPi.996']], 'the unwatched customer raises nothing of its own; the subject of its stored alert does')

  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.equal(await a.exited, 0)
  t.equal(await b.exited, 0)
  const store = await RecordsStore.open({ databaseUrl: DATABASE_URL, dataDir: dir })
  t.teardown(async () => { await store.close() })
  t.match(await store.verify(), { ok: true })
  const records: Array<Record<string, unknown>> = []
  for await (const l of store.lines()) if ('record' in l) records.push(l.record as Record<string, unknown>)
  const rescreens = records.filter((r) => r.tool === 'rescreen')
  t.equal(rescreens.length, 3, 'each raised alert is audited once')
  t.ok(rescreens.every((r) => (r.caller as { subject: string }).subject === 'system:rescreen' && typeof r.listVersion === 'string' && r.sourceId === 'un'))
  t.match(records.filter((r) => r.tool === 'watch_subject' && r.outcome === 'ok'), [{ caller: { subject: 'alice' }, effects: { customerRef: 'CUST-7', watching: true, replaced: false } }, { effects: { replaced: true } }, { effects: { customerRef: 'CUST-8' } }])
  t.match(records.filter((r) => r.tool === 'unwatch_subject'), [{ outcome: 'error' }, { outcome: 'ok', effects: { customerRef: 'CUST-7', watching: false } }])
})

t.test('a list change made while the service was down is re-screened at the next start, once', async (t) => {
  const dir = await tempDir(t)
  const listFile = join(dir, 'un.xml')
  await writeFile(listFile, UN)
  // The embedded records store in DATA_DIR: the baseline survives the restart like every record.
  const env = { DATA_DIR: dir, SANCTIONS_SOURCES: JSON.stringify([{ id: 'un', format: 'auto', path: listFile }]), SANCTIONS_REFRESH_INTERVAL: '0' }
  const first = await startInstance(t, env)
  const alice = new RpcSession(first.url, await token('alice', [...ALL_SCOPES]))
  await alice.open()
  await alice.call('watch_subject', { customerRef: 'CUST-1', name: 'Zebediah Quortleby', type: 'individual' })
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)

  // While it is down, Zebediah is designated.
  await writeFile(listFile, withEntries(individual('KPi.999', 'ZEBEDIAH', 'QUORTLEBY')))
  const second = await startInstance(t, env)
  t.ok(await until(() => second.stdout().includes('re-screening baselines checked at start'), 20_000, 50))
  t.ok(second.stdout().includes('is re-screened now'), 'the start found the change not yet re-screened')
  const bob = new RpcSession(second.url, await token('bob', [...ALL_SCOPES]))
  await bob.open()
  const queue = async (): Promise<AlertRow[]> => (await bob.call('list_alerts', { limit: 50 })).alerts as AlertRow[]
  t.ok(await until(async () => (await queue()).length > 0, 20_000, 100), 'the re-screening raised the alert')
  t.match(await queue(), [{ subject: { customerRef: 'CUST-1' }, bestHit: { source: 'UN', id: 'KPi.999' } }])
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)

  // Started again on the same list: the baseline moved, nothing is re-screened or raised twice.
  const third = await startInstance(t, env)
  t.ok(await until(() => third.stdout().includes('re-screening baselines checked at start'), 20_000, 50))
  const carol = new RpcSession(third.url, await token('carol', [...ALL_SCOPES]))
  await carol.open()
  t.equal(((await carol.call('list_alerts', { limit: 50 })).alerts as unknown[]).length, 1)
  t.notOk(third.stdout().includes('is re-screened now'), 'no change left to re-screen')
  third.child.kill('SIGTERM')
  t.equal(await third.exited, 0)
})
