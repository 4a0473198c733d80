import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { RecordsStore, type RecordsOptions } from '../../src/records/store.js'

export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

interface Teardown { teardown: (fn: () => unknown) => void }

/** A fresh PostgreSQL database for one test file, dropped after. */
export async function freshDatabase (t: Teardown): Promise<string> {
  const name = `records_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: ADMIN_URL })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
}

export async function tempDir (t: Teardown, prefix = 'records-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

export type EngineName = 'postgres' | 'embedded'
export const ENGINES: EngineName[] = ['postgres', 'embedded']

/** Options for a store on the named engine (the key always in a temp folder). */
export async function storeOptions (t: Teardown, engine: EngineName): Promise<RecordsOptions> {
  const dataDir = await tempDir(t)
  return engine === 'postgres' ? { databaseUrl: await freshDatabase(t), dataDir } : { dataDir }
}

export async function openStore (t: Teardown, o: RecordsOptions): Promise<RecordsStore> {
  const s = await RecordsStore.open(o)
  t.teardown(async () => { await s.close() })
  return s
}
