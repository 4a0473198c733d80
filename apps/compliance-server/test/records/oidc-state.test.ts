import t from 'tap'
import { sql } from 'kysely'
import { RecordsOidcStateStore } from '../../src/records/oidc-state.js'
import { RecordsStore } from '../../src/records/store.js'
import { ENGINES, openStore, storeOptions } from './helpers.js'

for (const engine of ENGINES) {
  t.test(`${engine}: the authorization server's state: upsert, find by id/uid/userCode, consume, destroy, revoke by grant, expiry, restart`, async (t) => {
    const o = await storeOptions(t, engine)
    const first = await RecordsStore.open(o)
    const a = new RecordsOidcStateStore(first.db)
    await a.upsert('Session', 's1', { uid: 'u1', accountId: 'alice' }, 60)
    await a.upsert('DeviceCode', 'd1', { userCode: 'ABCD-EFGH', grantId: 'g1' }, 60)
    await a.upsert('AccessToken', 'at1', { grantId: 'g1' }, 60)
    await a.upsert('AccessToken', 'at2', { grantId: 'g2' })
    await a.upsert('Session', 's1', { uid: 'u1', accountId: 'alice', updated: true }, 60)
    await first.close()

    const s = await openStore(t, o)
    const b = new RecordsOidcStateStore(s.db)
    t.same(await b.find('Session', 's1'), { uid: 'u1', accountId: 'alice', updated: true }, 'kept across a restart, upsert replaced it')
    t.same(await b.findByUid('Session', 'u1'), { uid: 'u1', accountId: 'alice', updated: true })
    t.same(await b.findByUserCode('DeviceCode', 'ABCD-EFGH'), { userCode: 'ABCD-EFGH', grantId: 'g1' })
    t.equal(await b.find('Session', 'nope'), undefined)
    t.equal(await b.find('AccessToken', 's1'), undefined, 'models are separate')
    await b.consume('DeviceCode', 'd1')
    t.type((await b.find('DeviceCode', 'd1'))?.consumed, 'number', 'consumed is stamped and the record kept')
    await b.consume('DeviceCode', 'missing')
    await b.revokeByGrantId('AccessToken', 'g1')
    t.equal(await b.find('AccessToken', 'at1'), undefined)
    t.same(await b.find('AccessToken', 'at2'), { grantId: 'g2' }, 'another grant is untouched')
    await b.destroy('Session', 's1')
    t.equal(await b.find('Session', 's1'), undefined)
    await b.upsert('Interaction', 'i1', { uid: 'x' }, 60)
    await sql`update oidc_state set expires_at = now() - interval '1 second' where id = 'i1'`.execute(s.db)
    t.equal(await b.find('Interaction', 'i1'), undefined, 'an expired record is not found')
  })
}
