import t from 'tap'
import { ALL_SCOPES } from '../../src/auth.js'
import { RecordsStore } from '../../src/records/store.js'
import { freshDatabase, tempDir } from './helpers.js'
import { RpcSession, startInstance, token } from './process.js'

t.test('two instances on one PostgreSQL database see one case and append to one chain', async (t) => {
  const DATABASE_URL = await freshDatabase(t)
  const keyDir = await tempDir(t)
  const env = { DATABASE_URL, DATA_DIR: keyDir }
  const [a, b] = await Promise.all([startInstance(t, env), startInstance(t, env)])
  const alice = new RpcSession(a.url, await token('alice', [...ALL_SCOPES]))
  const bob = new RpcSession(b.url, await token('bob', [...ALL_SCOPES]))
  await alice.open()
  await bob.open()
  const screen = await alice.call('screen_sanctions', { name: 'Banco Nacional de Cuba' })
  const alertId = screen.alertId as string
  t.match(alertId, /^ALERT-/)
  await bob.call('record_decision', { alertId, decision: 'confirmed_hit', note: 'same bank' })
  const aliceOnB = new RpcSession(b.url, alice.token)
  await aliceOnB.open()
  await t.rejects(aliceOnB.call('record_decision', { alertId, decision: 'false_positive', note: 'x' }), /awaiting review/, 'a second proposal is refused')
  const bobOnA = new RpcSession(a.url, bob.token)
  await bobOnA.open()
  await t.rejects(bobOnA.call('review_decision', { alertId, verdict: 'approve', note: 'mine' }), /four-eyes rule: bob/, 'the proposer cannot review on the other instance either')
  await alice.call('review_decision', { alertId, verdict: 'approve', note: 'agreed' })
  const kase = await bob.call('get_case', { alertId })
  t.match(kase, { case: { alert: { state: 'approved' }, decisions: [{ decidedBy: 'bob', reviewedBy: 'alice', state: 'approved' }] } })

  const answered = new Set<string>()
  await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const r = await (i % 2 === 0 ? alice : bob).call('country_risk', { country: 'Burma' })
    answered.add(r.audit.requestId)
  }))
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.equal(await a.exited, 0)
  t.equal(await b.exited, 0)

  const store = await RecordsStore.open({ databaseUrl: DATABASE_URL, dataDir: keyDir })
  t.teardown(async () => { await store.close() })
  const v = await store.verify()
  t.match(v, { ok: true, unanchored: 0 }, 'one valid chain, anchored at shutdown')
  const ids = new Set<string>()
  for await (const l of store.lines()) if ('record' in l) ids.add((l.record as { requestId: string }).requestId)
  t.ok([...answered].every((id) => ids.has(id)), 'every answered call of both instances is in the chain')
})

t.test('a second instance on the same DATA_DIR is refused at start with a clear message', async (t) => {
  const dir = await tempDir(t)
  const first = await startInstance(t, { DATA_DIR: dir })
  await t.rejects(startInstance(t, { DATA_DIR: dir }), /in use by another compliance-server \(pid \d+\); the embedded engine serves one instance — run several instances on PostgreSQL \(DATABASE_URL\)/)
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
})
