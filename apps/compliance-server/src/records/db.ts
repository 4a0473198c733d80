import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely'

/** The tables of the records store (see the migrations below). */
export interface Tables {
  alerts: { alert_id: string, state: string, tool: string, request_id: string, subject: string, query: string, hits: string, datasets: string, algorithm: string, opened_by: string, opened_at: Date | string, updated_at: Date | string, rescreen_key?: string | null }
  decisions: { decision_id: string, alert_id: string, decision: string, note: string, proposed_by: string, proposed_at: Date | string, state: string, reviewed_by: string | null, reviewed_at: Date | string | null, review_note: string | null }
  notes: { note_id: string, alert_id: string, note: string, author: string, created_at: Date | string }
  audit: { seq: string | number, at: Date | string, request_id: string, prev_hash: string, hash: string, record: string }
  audit_head: { id: number, seq: string | number, hash: string }
  audit_checkpoints: { seq: string | number, hash: string, at: string, key_id: string, signature: string }
  oauth_keys: { kid: string, state: string, jwk: string, created_at: Date | string }
  login_failures: { key: string, failures: number, window_until: Date | string }
  watchlist: { customer_ref: string, subject: string, watched_by: string, watched_at: Date | string }
  rescreen_baselines: { source_id: string, fingerprint: string, entries: string, updated_at: Date | string }
  oidc_state: { model: string, id: string, payload: string, uid: string | null, user_code: string | null, grant_id: string | null, expires_at: Date | string | null }
}

export type Db = Kysely<Tables>

const GENESIS = '0'.repeat(64)

/** Versioned migrations, run at start-up by Kysely's migrator (it takes an advisory lock on PostgreSQL). */
const MIGRATIONS: Record<string, Migration> = {
  '0001_records': {
    async up (db: Kysely<Tables>) {
      await db.schema.createTable('alerts')
        .addColumn('alert_id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('tool', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('query', 'text', (c) => c.notNull())
        .addColumn('hits', 'text', (c) => c.notNull())
        .addColumn('datasets', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('opened_by', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('alerts_state_opened').on('alerts').columns(['state', 'opened_at', 'alert_id']).execute()
      await db.schema.createIndex('alerts_opened').on('alerts').columns(['opened_at', 'alert_id']).execute()
      await db.schema.createTable('decisions')
        .addColumn('decision_id', 'text', (c) => c.primaryKey())
        .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.alert_id').onDelete('cascade'))
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('proposed_by', 'text', (c) => c.notNull())
        .addColumn('proposed_at', 'timestamptz', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reviewed_by', 'text')
        .addColumn('reviewed_at', 'timestamptz')
        .addColumn('review_note', 'text')
        .execute()
      await db.schema.createIndex('decisions_alert').on('decisions').columns(['alert_id', 'proposed_at']).execute()
      await db.schema.createTable('notes')
        .addColumn('note_id', 'text', (c) => c.primaryKey())
        .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.alert_id').onDelete('cascade'))
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('notes_alert').on('notes').columns(['alert_id', 'created_at']).execute()
      // The record column is the canonical JSON text that was hashed: jsonb would normalise it and
      // refuse a lone surrogate, and the chain must verify byte for byte.
      await db.schema.createTable('audit')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at', 'timestamptz', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('audit_request').on('audit').column('request_id').execute()
      await db.schema.createIndex('audit_at').on('audit').column('at').execute()
      await db.schema.createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute()
      await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS }).execute()
      await db.schema.createTable('audit_checkpoints')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute()
      await db.schema.createTable('oidc_state')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('uid', 'text')
        .addColumn('user_code', 'text')
        .addColumn('grant_id', 'text')
        .addColumn('expires_at', 'timestamptz')
        .addPrimaryKeyConstraint('oidc_state_pk', ['model', 'id'])
        .execute()
      await db.schema.createIndex('oidc_state_uid').on('oidc_state').columns(['model', 'uid']).execute()
      await db.schema.createIndex('oidc_state_user_code').on('oidc_state').columns(['model', 'user_code']).execute()
      await db.schema.createIndex('oidc_state_grant').on('oidc_state').columns(['model', 'grant_id']).execute()
    }
  },
  '0002_watchlist': {
    async up (db: Kysely<Tables>) {
      // Customers kept under watch: re-screened against every list change (watch_subject / unwatch_subject).
      await db.schema.createTable('watchlist')
        .addColumn('customer_ref', 'text', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('watched_by', 'text', (c) => c.notNull())
        .addColumn('watched_at', 'timestamptz', (c) => c.notNull())
        .execute()
      // One alert per subject and list version from re-screening, however many instances saw the change.
      await db.schema.alterTable('alerts').addColumn('rescreen_key', 'text').execute()
      await db.schema.createIndex('alerts_rescreen_key').on('alerts').column('rescreen_key').unique().execute()
    }
  },
  '0003_oauth': {
    async up (db: Kysely<Tables>) {
      // The built-in authorization server's keys (src/oauth/keys.ts): one ring for every instance.
      await db.schema.createTable('oauth_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .execute()
      // Failed sign-ins per username in the current window: the lockout holds on every instance.
      await db.schema.createTable('login_failures')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('window_until', 'timestamptz', (c) => c.notNull())
        .execute()
    }
  },
  '0004_rescreen_baselines': {
    async up (db: Kysely<Tables>) {
      // Per source, the list the watchlist and the alerts' subjects were last re-screened against: a
      // change is re-screened from it whenever it is found (at a refresh, or at start after a restart).
      await db.schema.createTable('rescreen_baselines')
        .addColumn('source_id', 'text', (c) => c.primaryKey())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('entries', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute()
    }
  }
}

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS }

/** Runs the pending migrations; throws the first failure. */
export async function migrate (db: Kysely<Tables>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    throw new Error(`records store migration ${failed ?? ''} failed: ${(error as Error).message ?? String(error)}`)
  }
}

export interface Engine {
  kind: 'postgres' | 'embedded'
  db: Db
  /** Called after each audit batch commit (the embedded engine makes its WAL durable there). */
  afterCommit: () => Promise<void>
  close: () => Promise<void>
}

/** PostgreSQL through `pg`'s pool. */
export async function openPostgres (url: string, poolSize = 10): Promise<Engine> {
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 })
  // A dropped connection (server restart) is an error on the pool or on the client, not a crash: the
  // query in flight fails (the caller gets a clear error), and the next one reconnects. A client that
  // is checked out but between queries (inside a transaction) reports it on itself, not on the pool.
  pool.on('error', () => {})
  pool.on('connect', (client) => { client.on('error', () => {}) })
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) })
  return { kind: 'postgres', db, afterCommit: async () => {}, close: async () => { await db.destroy() } }
}

/** Refused when another live process holds the data folder. */
export class DataDirLockedError extends Error {
  constructor (dir: string, pid: number) {
    super(`the data folder ${dir} is in use by another compliance-server (pid ${pid}); the embedded engine serves one instance — run several instances on PostgreSQL (DATABASE_URL)`)
    this.name = 'DataDirLockedError'
  }
}

/** Takes `file` as a lock holding this process's id (a stale one left by a killed process is taken over); `busy` names the holder. */
export async function lockFile (file: string, busy: (pid: number) => Error): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx')
      await fh.writeFile(String(process.pid))
      await fh.close()
      return async () => { await unlink(file).catch(() => {}) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw busy(pid)
      await unlink(file).catch(() => {}) // a stale lock left by a killed process
    }
  }
  throw new Error(`cannot take the lock ${file}`)
}

async function lockDir (dir: string): Promise<() => Promise<void>> {
  return await lockFile(join(dir, 'records.lock'), (pid) => new DataDirLockedError(dir, pid))
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * The embedded engine: PGlite (PostgreSQL in WebAssembly) in `dir`, one connection, serialised.
 * PGlite runs PostgreSQL with fsync off and its Node file system never syncs; its WAL is written
 * to the host files at commit (so a killed process loses nothing), and after each commit batch we
 * fdatasync the WAL segments ourselves so that an OS crash loses nothing either.
 */
export async function openEmbedded (dir: string): Promise<Engine> {
  await mkdir(dir, { recursive: true })
  const unlock = await lockDir(dir)
  try {
    const { PGlite } = await import('@electric-sql/pglite')
    const pg = await PGlite.create({ dataDir: join(dir, 'pgdata'), relaxedDurability: false })
    let tail: Promise<unknown> = Promise.resolve()
    const pool: PostgresPool = {
      connect: async () => {
        let release!: () => void
        const mine = new Promise<void>((resolve) => { release = resolve })
        const before = tail
        tail = before.then(async () => await mine)
        await before
        const client: PostgresPoolClient = {
          query: (async (text: string, params: readonly unknown[]) => {
            const r = await pg.query(text, params as unknown[])
            return { command: r.command ?? 'SELECT', rowCount: r.affectedRows ?? r.rows.length, rows: r.rows } as unknown as PostgresQueryResult<unknown>
          }) as PostgresPoolClient['query'],
          release: () => { release() }
        }
        return client
      },
      end: async () => {}
    }
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) })
    const wal = join(dir, 'pgdata', 'pg_wal')
    return {
      kind: 'embedded',
      db,
      afterCommit: async () => { await syncWal(wal) },
      close: async () => { await db.destroy(); await pg.close(); await unlock() }
    }
  } catch (err) {
    await unlock()
    throw err
  }
}

let lastWal: { name: string, at: number } | null = null
async function syncWal (dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => /^[0-9A-F]{24}$/.test(n))
  let newest = lastWal
  for (const name of names) {
    const m = (await stat(join(dir, name))).mtimeMs
    if (newest === null || m >= newest.at) newest = { name, at: m }
  }
  if (newest === null) return
  lastWal = newest
  const fh = await open(join(dir, newest.name), 'r+')
  try { await fh.datasync() } finally { await fh.close() }
}

/** True when the database answers. */
export async function ping (db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db)
    return true
  } catch {
    return false
  }
}

