import t from 'tap'
import { execFile } from 'node:child_process'
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ALL_SCOPES } from '../../src/auth.js'
import { RecordsStore } from '../../src/records/store.js'
import { verifyNdjson } from '../../src/records/verify.js'
import { freshDatabase, storeOptions, tempDir, ENGINES } from './helpers.js'
import { MAIN, RpcSession, startInstance, token } from './process.js'

const recordsOf = (text: string): Array<Record<string, unknown>> =>
  text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'seq' in l)

for (const engine of ENGINES) {
  t.test(`${engine}: AUDIT_LOG_FILE follows the chain line for line, anchored by the checkpoints signed after it`, async (t) => {
    const o = await storeOptions(t, engine)
    const file = join(o.dataDir, 'mirror', 'audit.ndjson')
    const store = await RecordsStore.open({ ...o, mirrorFile: file, checkpointEvery: 50 })
    for (let round = 0; round < 12; round++) await Promise.all(Array.from({ length: 10 }, async (_, i) => await store.append({ tool: 'mirror-test', i: round * 10 + i })))
    await store.mirror?.sync()
    const exported: Array<Record<string, unknown>> = []
    for await (const l of store.lines()) if ('seq' in l) exported.push(l)
    t.same(recordsOf(await readFile(file, 'utf8')), exported, 'the same records, in order, as the store exports')
    const key = store.key
    await store.close()
    const text = await readFile(file, 'utf8')
    const v = verifyNdjson(text, key)
    t.match(v, { ok: true, records: 120, unanchored: 0, signaturesChecked: true }, 'the shutdown checkpoint, signed after the last record was mirrored, anchors it')
    t.equal(v.checkpoints, 3, 'the checkpoints at 50 and 100 records are in the file too, with the one at shutdown')

    // A crash mid-write left half a line: the next start moves it aside and continues the file.
    await appendFile(file, '{"v":2,"seq":121,"prevHash":"ab')
    const again = await RecordsStore.open({ ...o, mirrorFile: file })
    const quarantined = again.mirror?.quarantined as string
    t.match(quarantined, /audit\.ndjson\.torn-/)
    t.equal(await readFile(quarantined, 'utf8'), '{"v":2,"seq":121,"prevHash":"ab', 'the torn bytes are kept, named')
    await again.append({ tool: 'after-the-crash' })
    await again.close()
    t.match(verifyNdjson(await readFile(file, 'utf8'), key), { ok: true, records: 121, unanchored: 0 }, 'the chain continues in the file')
    t.same((await readdir(join(o.dataDir, 'mirror'))).filter((f) => f.endsWith('.lock')), [], 'the lock is released at close')
  })
}

t.test('a file that follows another store, or an audit log of an earlier version, is refused with a clear message', async (t) => {
  const o = await storeOptions(t, 'embedded')
  const other = await RecordsStore.open(await storeOptions(t, 'embedded'))
  for (let i = 0; i < 3; i++) await other.append({ i })
  const otherFile = join(o.dataDir, 'other.ndjson')
  let text = ''
  for await (const l of other.lines()) text += `${JSON.stringify(l)}\n`
  await other.close()
  await writeFile(otherFile, text)
  await t.rejects(RecordsStore.open({ ...o, mirrorFile: otherFile }), /AUDIT_LOG_FILE .*other\.ndjson ends at record 3 but the records store's chain ends at 0: the file follows another store/)
  const v1 = join(o.dataDir, 'v1.ndjson')
  await writeFile(v1, `${JSON.stringify({ seq: 1, prevHash: '0'.repeat(64), hash: 'x', record: {} })}\n`)
  await t.rejects(RecordsStore.open({ ...o, mirrorFile: v1 }), /is an audit log of an earlier version \(v1 lines\)/)
  const store = await RecordsStore.open(o)
  for (let i = 0; i < 5; i++) await store.append({ mine: i })
  await store.close()
  await t.rejects(RecordsStore.open({ ...o, mirrorFile: otherFile }), /record 3 differs from the one in the records store/)
})

t.test('two instances on one PostgreSQL: each file holds the whole chain; one file per instance', async (t) => {
  const DATABASE_URL = await freshDatabase(t)
  const dir = await tempDir(t)
  const [fileA, fileB] = [join(dir, 'a.ndjson'), join(dir, 'b.ndjson')]
  const a = await startInstance(t, { DATABASE_URL, DATA_DIR: dir, AUDIT_LOG_FILE: fileA })
  const b = await startInstance(t, { DATABASE_URL, DATA_DIR: dir, AUDIT_LOG_FILE: fileB })
  await t.rejects(startInstance(t, { DATABASE_URL, DATA_DIR: dir, AUDIT_LOG_FILE: fileA }), /AUDIT_LOG_FILE .*a\.ndjson is written by another compliance-server \(pid \d+\): give each instance its own file/)
  const alice = new RpcSession(a.url, await token('alice', [...ALL_SCOPES]))
  const bob = new RpcSession(b.url, await token('bob', [...ALL_SCOPES]))
  await alice.open()
  await bob.open()
  const answered = new Set<string>()
  await Promise.all(Array.from({ length: 30 }, async (_, i) => { answered.add((await (i % 2 === 0 ? alice : bob).call('country_risk', { country: 'Iran' })).audit.requestId) }))
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.same([await a.exited, await b.exited], [0, 0])
  const run = promisify(execFile)
  for (const file of [fileA, fileB]) {
    const ids = new Set(recordsOf(await readFile(file, 'utf8')).map((l) => (l.record as { requestId?: string }).requestId))
    t.ok([...answered].every((id) => ids.has(id)), `${file}: every answered call of both instances`)
    const { stdout } = await run(process.execPath, [MAIN, 'verify-audit', file], { env: { PATH: process.env.PATH ?? '', DATA_DIR: dir } })
    t.match(stdout, /^ok: \d+ lines, chain intact; anchored by \d+ checkpoint\(s\)/, `${file}: verify-audit`)
  }
})
