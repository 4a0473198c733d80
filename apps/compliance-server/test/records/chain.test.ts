import t from 'tap'
import { sql } from 'kysely'
import { RecordsStore } from '../../src/records/store.js'
import { ENGINES, openStore, storeOptions } from './helpers.js'

for (const engine of ENGINES) {
  t.test(`${engine}: concurrent appends are grouped into few commits and form one valid chain`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => await s.append({ requestId: `r-${i}`, at: new Date().toISOString(), tool: 't', i, name: i === 7 ? 'bad \ud800 input' : 'x' })))
    t.same(results.map((r) => r.seq).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1))
    t.ok(s.stats.commits < 200, `grouped: ${s.stats.commits} commits for 200 records`)
    const v = await s.verify()
    t.equal(v.ok, true)
    t.equal(v.records, 200)
    t.equal(v.unanchored, 200, 'no checkpoint yet: everything is unanchored')
    await s.checkpoint()
    t.match(await s.verify(), { ok: true, anchoredThrough: 200, unanchored: 0 })
  })

  t.test(`${engine}: tamper, delete, reorder and truncation are detected`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    for (let i = 0; i < 6; i++) await s.append({ requestId: `r-${i}`, n: i })
    await s.checkpoint()
    const db = s.db

    await sql`update audit set record = replace(record, '"n":2', '"n":9') where seq = 3`.execute(db)
    t.match(await s.verify(), { ok: false, broken: { seq: 3, reason: /hash does not match/ } }, 'tampered row')
    await sql`update audit set record = replace(record, '"n":9', '"n":2') where seq = 3`.execute(db)
    t.match(await s.verify(), { ok: true })

    await sql`update audit set seq = -seq where seq in (2, 3)`.execute(db)
    await sql`update audit set seq = 3 where seq = -2`.execute(db)
    await sql`update audit set seq = 2 where seq = -3`.execute(db)
    t.match(await s.verify(), { ok: false, broken: { seq: 2 } }, 'reordered rows')
    await sql`update audit set seq = -seq where seq in (2, 3)`.execute(db)
    await sql`update audit set seq = 3 where seq = -2`.execute(db)
    await sql`update audit set seq = 2 where seq = -3`.execute(db)

    await sql`delete from audit where seq = 4`.execute(db)
    t.match(await s.verify(), { ok: false, broken: { seq: 5, reason: /missing/ } }, 'deleted row')
  })

  t.test(`${engine}: a truncated end is detected by the checkpoint and the head`, async (t) => {
    const s = await openStore(t, await storeOptions(t, engine))
    for (let i = 0; i < 5; i++) await s.append({ requestId: `r-${i}` })
    await s.checkpoint()
    await sql`delete from audit where seq >= 4`.execute(s.db)
    t.match(await s.verify(), { ok: false })
  })

  t.test(`${engine}: the chain survives a restart and continues`, async (t) => {
    const o = await storeOptions(t, engine)
    const a = await RecordsStore.open(o)
    await a.append({ requestId: 'one' })
    await a.close()
    const b = await openStore(t, o)
    const r = await b.append({ requestId: 'two' })
    t.equal(r.seq, 2)
    t.match(await b.verify(), { ok: true, records: 2 })
  })
}
