import t from 'tap'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose'
import { loadKeyRing, MemoryKeyRows, rotateKeyRing } from '../../src/oauth/keys.js'
import { RecordsKeyRows } from '../../src/records/oauth.js'
import { RecordsStore } from '../../src/records/store.js'
import { freshDatabase, storeOptions, tempDir, ENGINES } from './helpers.js'
import { MAIN, startInstance, type Instance } from './process.js'
import { until } from '../helpers/wait.js'

t.test('the key ring: an active key that signs, a published next key, a kept secret; rotation moves each one step', async (t) => {
  const rows = new MemoryKeyRows()
  const first = await loadKeyRing(rows)
  t.equal(first.jwks.keys.length, 2, 'active and next are published')
  t.equal(first.jwks.keys[0]?.kid, first.active, 'the active key comes first: it signs')
  t.equal(first.jwks.keys[1]?.kid, first.next)
  t.same(first.retired, [])
  t.type(first.secret.d, 'string')
  t.same(await loadKeyRing(rows), first, 'loading again changes nothing')

  const second = await rotateKeyRing(rows)
  t.equal(second.active, first.next, 'the published next key signs after a rotation')
  t.same(second.retired, [first.active], 'the old signing key stays published for the tokens it signed')
  t.not(second.next, first.next, 'a new next key')
  t.same(second.secret, first.secret, 'the derivation secret survives rotation (forms and cookies in flight stay valid)')
  const third = await rotateKeyRing(rows)
  t.same(third.retired, [second.active], '--keep 1: only the newest retired key stays')
  const fourth = await rotateKeyRing(rows, 3)
  t.same(fourth.retired, [third.active, second.active])
  t.same(fourth.jwks.keys.map((k) => k.kid), [fourth.active, fourth.next, ...fourth.retired])
  await t.rejects(rotateKeyRing(rows, 0), /--keep must be a whole number of at least 1/)
})

t.test('an empty ring takes over the JWKS file of an earlier version: its first key keeps signing', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'oauth-signing-keys.json')
  const key = async (): Promise<Record<string, unknown>> => ({ ...await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey), kid: crypto.randomUUID(), alg: 'ES256', use: 'sig' })
  const legacy = { keys: [await key(), await key()] }
  await writeFile(file, JSON.stringify(legacy))
  const ring = await loadKeyRing(new MemoryKeyRows(), file)
  t.equal(ring.active, legacy.keys[0]?.kid)
  t.same(ring.retired, [legacy.keys[1]?.kid])
  t.equal(ring.secret.d, legacy.keys[0]?.d, 'the old first key stays the derivation secret')
  await writeFile(file, '{ torn')
  await t.rejects(loadKeyRing(new MemoryKeyRows(), file), /cannot read the signing keys of an earlier version in .*oauth-signing-keys\.json/)
  t.ok((await loadKeyRing(new MemoryKeyRows(), join(dir, 'absent.json'))).active, 'no file: a new ring')
})

for (const engine of ENGINES) {
  t.test(`${engine}: instances starting at once get one ring; a rotation is seen by every reader`, async (t) => {
    const store = await RecordsStore.open(await storeOptions(t, engine))
    t.teardown(async () => { await store.close() })
    const rows = new RecordsKeyRows(store.db)
    const rings = await Promise.all(Array.from({ length: 4 }, async () => await loadKeyRing(rows)))
    t.ok(rings.every((r) => r.active === rings[0]?.active && r.next === rings[0]?.next), 'one active and one next key for all')
    const rotated = await rotateKeyRing(new RecordsKeyRows(store.db))
    t.equal(rotated.active, rings[0]?.next)
    t.same(await loadKeyRing(rows), rotated, 'the rotation is stored')
  })
}

t.test('several instances with their own DATA_DIR share the keys; rotation with a rolling restart refuses no token', async (t) => {
  const DATABASE_URL = await freshDatabase(t)
  const [dirA, dirB] = [await tempDir(t), await tempDir(t)]
  // Built-in mode (no AUTH_* variable) with its development token; both instances behind one public URL, B's.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => { resolve(p) }) })
  })
  const common = { DATABASE_URL, AUTH_ISSUER: '', AUTH_HS256_SECRET: '', MCP_PUBLIC_URL: `http://127.0.0.1:${port}/mcp`, LOG_FORMAT: 'json' }
  const bannerToken = async (i: Instance): Promise<string> => {
    if (!await until(() => /Token: +\S+/.test(i.stderr()), 10_000, 50)) throw new Error(`no banner token: ${i.stderr()}`)
    return (/Token: +(\S+)/.exec(i.stderr()) as RegExpExecArray)[1] as string
  }
  const accepted = async (i: Instance, token: string): Promise<number> => {
    const res = await fetch(i.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) })
    await res.text()
    return res.status
  }
  const b = await startInstance(t, { ...common, DATA_DIR: dirB, PORT: String(port) })
  let a = await startInstance(t, { ...common, DATA_DIR: dirA })
  const [tokenA, tokenB] = [await bannerToken(a), await bannerToken(b)]
  t.equal(decodeProtectedHeader(tokenA).kid, decodeProtectedHeader(tokenB).kid, 'one signing key, although each instance has its own DATA_DIR')
  t.equal(await accepted(b, tokenA), 200, 'a token signed by A is accepted by B')

  const run = promisify(execFile)
  const { stdout } = await run(process.execPath, [MAIN, 'rotate-signing-key'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL, DATA_DIR: dirA } })
  t.match(stdout, /^signing key \S+ signs from each instance's next start/)
  a.child.kill('SIGTERM')
  t.equal(await a.exited, 0)
  a = await startInstance(t, { ...common, DATA_DIR: dirA })
  const rotatedA = await bannerToken(a)
  t.not(decodeProtectedHeader(rotatedA).kid, decodeProtectedHeader(tokenA).kid, 'restarted, A signs with the new key')
  t.equal(await accepted(b, rotatedA), 200, 'B, not restarted yet, already publishes the new key: A\'s new token is accepted')
  t.equal(await accepted(a, tokenB), 200, 'the old key is still published: B\'s token is accepted by A')
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  await Promise.all([a.exited, b.exited])

  const store = await RecordsStore.open({ databaseUrl: DATABASE_URL, dataDir: dirA })
  t.teardown(async () => { await store.close() })
  const records: Array<Record<string, unknown>> = []
  for await (const l of store.lines()) if ('record' in l) records.push(l.record as Record<string, unknown>)
  t.match(records.filter((r) => r.tool === 'rotate-signing-key'), [{ outcome: 'ok', input: { keep: 1 }, effects: { active: decodeProtectedHeader(rotatedA).kid } }], 'the rotation is audited')
  await t.rejects(run(process.execPath, [MAIN, 'rotate-signing-key', '--keep', '0'], { env: { PATH: process.env.PATH ?? '', DATABASE_URL, DATA_DIR: dirA } }), /--keep needs a whole number of at least 1/)
})
