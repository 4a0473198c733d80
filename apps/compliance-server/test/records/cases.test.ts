import t from 'tap'
import { auditRefusal } from '../../src/records/refusal.js'
import { RecordsStore } from '../../src/records/store.js'
import { RecordsError } from '../../src/records/types.js'
import { ENGINES, openStore, storeOptions } from './helpers.js'

const caller = { subject: 'analyst-1', clientId: 'c', issuer: 'https://i.test', scopes: ['sanctions:screen'] }
const hit = { source: 'OFAC-SDN', id: '306', name: 'BANCO NACIONAL DE CUBA', matchedName: 'BANCO NACIONAL DE CUBA', score: 1, explanation: { tokens: [['banco', 'banco', 1]] } }
const alertInput = { tool: 'screen_sanctions', requestId: 'req-1', subject: { name: 'Banco Nacional de Cuba' }, query: { name: 'Banco Nacional de Cuba', limit: 10 }, hits: [hit], datasets: [{ source: 'OFAC-SDN', fileDate: '2021-12-31', sha256: 'ab' }], algorithm: { name: 'x', version: '1', threshold: 0.85 }, caller }

for (const engine of ENGINES) {
  t.test(`${engine}: four eyes — propose, refuse a second proposal and the proposer's review, reject, propose again, approve; kept across a restart`, async (t) => {
    const o = await storeOptions(t, engine)
    const s = await RecordsStore.open(o)
    const id = await s.openAlert(alertInput)
    await t.rejects(s.proposeDecision({ alertId: 'ALERT-42', decision: 'false_positive', note: 'n', by: 'a' }), new RecordsError('no alert "ALERT-42": alert ids come from screen_sanctions or screen_batch answers with a hit'))
    const p1 = await s.proposeDecision({ alertId: id, decision: 'confirmed_hit', note: 'same bank', by: 'alice' })
    t.match(p1, { state: 'proposed', decidedBy: 'alice' })
    await t.rejects(s.proposeDecision({ alertId: id, decision: 'false_positive', note: 'n', by: 'bob' }), /already has a decision awaiting review \(confirmed_hit proposed by alice\)/)
    await t.rejects(s.reviewDecision({ alertId: id, verdict: 'approve', note: 'me', by: 'alice' }), /four-eyes rule: alice proposed this decision and cannot review it/)
    t.match(await s.reviewDecision({ alertId: id, verdict: 'reject', note: 'not enough', by: 'bob' }), { alertState: 'open', decision: { state: 'rejected', reviewedBy: 'bob' } })
    await t.rejects(s.reviewDecision({ alertId: id, verdict: 'approve', note: 'x', by: 'bob' }), /no decision awaiting review \(state open\)/)
    await s.proposeDecision({ alertId: id, decision: 'false_positive', note: 'other dob', by: 'alice' })
    await s.addNote({ alertId: id, note: 'passport checked', author: 'alice' })
    t.match(await s.reviewDecision({ alertId: id, verdict: 'approve', note: 'agreed', by: 'carol' }), { alertState: 'approved' })
    await t.rejects(s.proposeDecision({ alertId: id, decision: 'escalated', note: 'n', by: 'dave' }), /is closed/)
    await s.close()

    const again = await openStore(t, o)
    const kase = await again.getCase(id)
    t.match(kase, {
      caseId: id,
      alert: { state: 'approved', hits: [{ id: '306', explanation: { tokens: [['banco', 'banco', 1]] } }], datasets: [{ sha256: 'ab' }], algorithm: { threshold: 0.85 }, openedBy: caller, requestId: 'req-1' },
      decisions: [{ decision: 'confirmed_hit', state: 'rejected', reviewedBy: 'bob' }, { decision: 'false_positive', state: 'approved', reviewedBy: 'carol', reviewNote: 'agreed' }],
      notes: [{ note: 'passport checked', author: 'alice' }]
    }, 'the full history survives a restart')
    t.equal(await again.getCase('ALERT-42'), null)
  })

  t.test(`${engine}: list_alerts pages the queue oldest first and filters by state and age`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await s.openAlert({ ...alertInput, subject: { name: `n${i}` } }))
    await s.proposeDecision({ alertId: ids[1] as string, decision: 'escalated', note: 'n', by: 'a' })
    const all = (await s.listAlerts({})).alerts
    t.same(all.map((a) => a.alertId).sort(), [...ids].sort())
    t.ok(all.every((a, i) => i === 0 || (all[i - 1] as typeof a).openedAt <= a.openedAt), 'oldest first')
    const p1 = await s.listAlerts({ limit: 2 })
    t.match(p1.alerts[0], { state: 'open', bestHit: { id: '306' }, hits: 1 })
    const p2 = await s.listAlerts({ limit: 2, cursor: p1.nextCursor as string })
    const p3 = await s.listAlerts({ limit: 2, cursor: p2.nextCursor as string })
    t.same([...p1.alerts, ...p2.alerts, ...p3.alerts].map((a) => a.alertId), all.map((a) => a.alertId), 'the pages are the whole queue, in order')
    t.equal(p3.nextCursor, undefined)
    t.same((await s.listAlerts({ state: 'proposed' })).alerts.map((a) => a.alertId), [ids[1]])
    t.same((await s.listAlerts({ olderThan: '2000-01-01' })).alerts, [])
    await t.rejects(s.listAlerts({ cursor: 'garbage' }), /invalid cursor/)
  })

  t.test(`${engine}: a refusal is audited without token material, malformed input included`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    await auditRefusal(s, { at: new Date().toISOString(), requestId: 'r-403', status: 403, code: -32003, reason: 'insufficient_scope', message: 'needs alerts:decide', method: 'tools/call', target: 'record_decision', caller: { ...caller, tokenId: 'jti-1', expiresAt: null, claims: { sub: 'analyst-1' } }, sessionId: 'sess', protocolVersion: '2025-11-25', ip: '127.0.0.1' })
    await auditRefusal(s, { at: new Date().toISOString(), requestId: 'r-401', status: 401, reason: 'invalid_token', message: 'bad \ud800 token', caller: null, ip: '127.0.0.1' })
    const lines = []
    for await (const l of s.lines()) lines.push(l)
    t.match(lines, [
      { record: { kind: 'refusal', requestId: 'r-403', status: 403, code: -32003, tool: 'record_decision', caller: { subject: 'analyst-1' }, session: 'sess' } },
      { record: { kind: 'refusal', requestId: 'r-401', status: 401, caller: null, message: 'bad \ufffd token' } }
    ])
    t.match(await s.verify(), { ok: true, records: 2 })
  })

  t.test(`${engine}: purge is refused inside the retention period; past it, the rest of the chain still verifies`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    const old = new Date('2010-01-01T00:00:00Z')
    for (let i = 0; i < 3; i++) await s.append({ requestId: `old-${i}`, at: new Date(old.getTime() + i).toISOString() })
    for (let i = 0; i < 2; i++) await s.append({ requestId: `new-${i}`, at: new Date().toISOString() })
    await t.rejects(s.purge(new Date(Date.now() - 86_400_000)), /inside the retention period \(RETENTION_YEARS=10/)
    t.match(await s.purge(new Date('2011-01-01')), { auditThrough: 3, auditDeleted: 3 })
    const v = await s.verify()
    t.match(v, { ok: true, records: 2, firstSeq: 4 }, 'the chain after the purge is anchored by the checkpoint at the cut')
    const r = await s.append({ requestId: 'after' })
    t.equal(r.seq, 6)
  })
}
