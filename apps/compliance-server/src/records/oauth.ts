import { sql } from 'kysely'
import type { KeyRow, KeyRowStore, KeyState } from '../oauth/keys.js'
import type { FailureCounter } from '../oauth/routes.js'
import type { Db } from './db.js'
import { RecordsOidcStateStore } from './oidc-state.js'

/** A fixed advisory lock id: instances starting at once, and a rotation, change the ring one at a time. */
const LOCK = 7_270_001

/** The authorization server's key ring in the records store (table `oauth_keys`), shared by every instance. */
export class RecordsKeyRows implements KeyRowStore {
  readonly #db: Db

  constructor (db: Db) {
    this.#db = db
  }

  async update (fn: (rows: KeyRow[]) => Promise<KeyRow[]>): Promise<KeyRow[]> {
    return await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${LOCK})`.execute(trx)
      const rows = (await trx.selectFrom('oauth_keys').selectAll().execute()).map((r) => ({
        kid: r.kid,
        state: r.state as KeyState,
        jwk: JSON.parse(r.jwk) as Record<string, unknown>,
        createdAt: (r.created_at instanceof Date ? r.created_at : new Date(r.created_at)).toISOString()
      }))
      const next = await fn(rows)
      const same = (a: KeyRow, b: KeyRow | undefined): boolean => b !== undefined && a.state === b.state && a.createdAt === b.createdAt
      const before = new Map(rows.map((r) => [r.kid, r]))
      const kept = new Set(next.map((r) => r.kid))
      const gone = rows.filter((r) => !kept.has(r.kid)).map((r) => r.kid)
      if (gone.length > 0) await trx.deleteFrom('oauth_keys').where('kid', 'in', gone).execute()
      for (const r of next) {
        if (same(r, before.get(r.kid))) continue
        const row = { kid: r.kid, state: r.state, jwk: JSON.stringify(r.jwk), created_at: r.createdAt }
        await trx.insertInto('oauth_keys').values(row).onConflict((c) => c.column('kid').doUpdateSet({ state: row.state, created_at: row.created_at })).execute()
      }
      return next
    })
  }
}

/**
 * Failed sign-ins per username in a fixed window (table `login_failures`), counted atomically by the
 * database so that a lockout holds on every instance: five failures spread over five instances lock
 * the account as five on one would.
 */
export class RecordsFailureCounter implements FailureCounter {
  readonly #db: Db

  constructor (db: Db) {
    this.#db = db
  }

  async count (key: string): Promise<number> {
    const r = await this.#db.selectFrom('login_failures').select('failures').where('key', '=', key).where('window_until', '>', new Date().toISOString()).executeTakeFirst()
    return r?.failures ?? 0
  }

  async add (key: string, windowMs: number): Promise<number> {
    const now = new Date()
    const until = new Date(now.getTime() + windowMs).toISOString()
    const r = await sql<{ failures: number }>`
      insert into login_failures (key, failures, window_until) values (${key}, 1, ${until}::timestamptz)
      on conflict (key) do update set
        failures = case when login_failures.window_until <= ${now.toISOString()}::timestamptz then 1 else login_failures.failures + 1 end,
        window_until = case when login_failures.window_until <= ${now.toISOString()}::timestamptz then excluded.window_until else login_failures.window_until end
      returning failures`.execute(this.#db)
    // Expired windows are dropped now and then, so that sign-ins under made-up names cannot grow the table for ever.
    if (Math.random() < 0.01) await this.#db.deleteFrom('login_failures').where('window_until', '<=', now.toISOString()).execute()
    return Number(r.rows[0]?.failures ?? 1)
  }

  async clear (key: string): Promise<void> {
    await this.#db.deleteFrom('login_failures').where('key', '=', key).execute()
  }
}

/** The built-in authorization server's state, key ring and sign-in failure counts, all in the records store. */
export function oauthStores (db: Db): { store: RecordsOidcStateStore, keys: RecordsKeyRows, failures: RecordsFailureCounter } {
  return { store: new RecordsOidcStateStore(db), keys: new RecordsKeyRows(db), failures: new RecordsFailureCounter(db) }
}
