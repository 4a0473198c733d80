import { sql } from 'kysely'
import type { KeyRow, KeyRowStore, KeyState } from '../oauth/keys.js'
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

/** The built-in authorization server's state and key ring, both in the records store. */
export function oauthStores (db: Db): { store: RecordsOidcStateStore, keys: RecordsKeyRows } {
  return { store: new RecordsOidcStateStore(db), keys: new RecordsKeyRows(db) }
}
