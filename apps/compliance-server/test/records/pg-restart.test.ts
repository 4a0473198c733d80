import t from 'tap'
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ALL_SCOPES } from '../../src/auth.js'
import { RecordsStore } from '../../src/records/store.js'
import { until } from '../helpers/wait.js'
import { tempDir } from './helpers.js'
import { RpcSession, startInstance, token } from './process.js'

// A PostgreSQL restart under load, on a private cluster (initdb/pg_ctl of the installed PostgreSQL),
// never the shared server the other tests use: clear errors and 503 from /ready while it is down,
// full service after, and every answered call's record in the chain.
const version = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().at(-1) : undefined
const BIN = version === undefined ? null : `/usr/lib/postgresql/${version}/bin`
const asRoot = process.getuid?.() === 0
const skip = BIN === null || !existsSync(join(BIN, 'pg_ctl')) ? 'no PostgreSQL server binaries (initdb, pg_ctl) here' : false

/** Runs a PostgreSQL tool; as root, as the postgres user (initdb and postgres refuse to run as root). */
function pg (tool: string, args: string[]): string {
  const bin = join(BIN as string, tool)
  return asRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    : execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => { resolve(p) }) })
  })
}

t.test('PostgreSQL restart during load: clear errors, /ready 503, then full service; no answered record lost', { skip }, async (t) => {
  const cluster = mkdtempSync(join(tmpdir(), 'pg-cluster-'))
  chmodSync(cluster, 0o700)
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(cluster, uid, gid)
  }
  const port = await freePort()
  const data = join(cluster, 'data')
  pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const start = (): void => { pg('pg_ctl', ['-D', data, '-l', join(cluster, 'log'), '-w', '-o', `-p ${port} -k ${cluster} -c listen_addresses=127.0.0.1`, 'start']) }
  const stop = (): void => { pg('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']) }
  start()
  t.teardown(() => {
    try { stop() } catch { /* already stopped */ }
    rmSync(cluster, { recursive: true, force: true })
  })

  const DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`
  const dir = await tempDir(t)
  const server = await startInstance(t, { DATABASE_URL, DATA_DIR: dir })
  // 0 when the server does not answer at all (it must: a database outage is no reason to stop).
  const ready = async (): Promise<number> => await fetch(server.url.replace(/\/mcp$/, '/ready')).then((r) => r.status, () => 0)
  t.equal(await ready(), 200)
  const session = new RpcSession(server.url, await token('analyst-pg', [...ALL_SCOPES]))
  await session.open()

  const answered = new Set<string>()
  const errors = new Map<string, number>()
  let running = true
  t.teardown(() => { running = false })
  const workers = Array.from({ length: 10 }, async () => {
    while (running) {
      try {
        answered.add((await session.call('country_risk', { country: 'Iran' })).audit.requestId)
      } catch (err) {
        const m = (err as Error).message
        errors.set(m, (errors.get(m) ?? 0) + 1)
        // A client that was refused retries once the service says it is ready again (bounded).
        await until(async () => !running || await ready() === 200, 20_000, 20)
      }
    }
  })
  t.ok(await until(() => answered.size >= 50, 20_000, 20), 'calls are answered before the restart')

  stop()
  t.ok(await until(async () => await ready() === 503, 20_000, 100), '/ready answers 503 while the database is down')
  t.equal(server.child.exitCode, null, `the server is still running (${server.stderr().slice(-500)})`)
  t.ok(await until(() => [...errors.values()].reduce((a, b) => a + b, 0) > 5, 20_000, 50), 'calls fail while it is down')
  for (const message of errors.keys()) {
    t.match(message, /the audit record could not be written \(records store unavailable\); the call was not completed, retry later/, 'a clear error, never an answer without its record')
  }

  start()
  t.ok(await until(async () => await ready() === 200, 30_000, 100), '/ready recovers by itself')
  const after = answered.size
  t.ok(await until(() => answered.size >= after + 50, 20_000, 20), 'full service again after the restart')
  running = false
  await Promise.all(workers)

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  const store = await RecordsStore.open({ databaseUrl: DATABASE_URL, dataDir: dir })
  t.teardown(async () => { await store.close() })
  t.match(await store.verify(), { ok: true }, 'one valid chain across the restart')
  const ids = new Set<string>()
  for await (const l of store.lines()) if ('record' in l) ids.add((l.record as { requestId: string }).requestId)
  const lost = [...answered].filter((id) => !ids.has(id))
  t.same(lost, [], `every one of the ${answered.size} answered calls has its record`)
})
