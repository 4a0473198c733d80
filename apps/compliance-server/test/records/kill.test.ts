import t from 'tap'
import { ALL_SCOPES } from '../../src/auth.js'
import { RecordsStore } from '../../src/records/store.js'
import { ENGINES, storeOptions } from './helpers.js'
import { RpcSession, startInstance, token } from './process.js'

for (const engine of ENGINES) {
  t.test(`${engine}: kill -9 under 50 concurrent calls leaves a valid chain holding every answered call`, async (t) => {
    const o = await storeOptions(t, engine)
    const env: Record<string, string> = { DATA_DIR: o.dataDir, ...(o.databaseUrl === undefined ? {} : { DATABASE_URL: o.databaseUrl }) }
    const instance = await startInstance(t, env)
    const session = new RpcSession(instance.url, await token('loader', [...ALL_SCOPES]))
    await session.open()
    const answered = new Set<string>()
    let killed = false
    const worker = async (): Promise<void> => {
      while (!killed || answered.size === 0) {
        try {
          const r = await session.call('country_risk', { country: 'Burma' })
          answered.add(r.audit.requestId)
          if (answered.size >= 400 && !killed) { killed = true; instance.child.kill('SIGKILL') }
        } catch {
          if (killed) return
        }
      }
    }
    await Promise.all(Array.from({ length: 50 }, worker))
    await instance.exited
    t.ok(answered.size >= 400, `${answered.size} calls answered before the kill`)

    const store = await RecordsStore.open(o) // the embedded lock of the killed process is stale and taken over
    t.teardown(async () => { await store.close() })
    const v = await store.verify()
    t.equal(v.ok, true, JSON.stringify(v.broken))
    const ids = new Set<string>()
    for await (const l of store.lines()) if ('record' in l) ids.add((l.record as { requestId: string }).requestId)
    const missing = [...answered].filter((id) => !ids.has(id))
    t.same(missing, [], `all ${answered.size} answered calls are in the chain of ${ids.size} records`)
  })
}
