import { sql } from 'kysely'
import type { OidcStatePayload, OidcStateStore } from '../oauth/state-store.js'
import type { Db } from './db.js'

/** The authorization server's state in the records store (table `oidc_state`), shared by every instance. */
export class RecordsOidcStateStore implements OidcStateStore {
  readonly #db: Db

  constructor (db: Db) {
    this.#db = db
  }

  async upsert (model: string, id: string, payload: OidcStatePayload, expiresInSeconds?: number): Promise<void> {
    const row = {
      model,
      id,
      payload: JSON.stringify(payload),
      uid: payload.uid ?? null,
      user_code: payload.userCode ?? null,
      grant_id: payload.grantId ?? null,
      expires_at: expiresInSeconds === undefined ? null : new Date(Date.now() + expiresInSeconds * 1000).toISOString()
    }
    await this.#db.insertInto('oidc_state').values(row)
      .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet({ payload: row.payload, uid: row.uid, user_code: row.user_code, grant_id: row.grant_id, expires_at: row.expires_at }))
      .execute()
  }

  async #findBy (model: string, column: 'id' | 'uid' | 'user_code', value: string): Promise<OidcStatePayload | undefined> {
    const r = await this.#db.selectFrom('oidc_state').select('payload').where('model', '=', model).where(column, '=', value)
      .where(sql<boolean>`(expires_at is null or expires_at > now())`).executeTakeFirst()
    return r === undefined ? undefined : JSON.parse(r.payload) as OidcStatePayload
  }

  async find (model: string, id: string): Promise<OidcStatePayload | undefined> { return await this.#findBy(model, 'id', id) }
  async findByUid (model: string, uid: string): Promise<OidcStatePayload | undefined> { return await this.#findBy(model, 'uid', uid) }
  async findByUserCode (model: string, userCode: string): Promise<OidcStatePayload | undefined> { return await this.#findBy(model, 'user_code', userCode) }

  async consume (model: string, id: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom('oidc_state').select('payload').where('model', '=', model).where('id', '=', id).forUpdate().executeTakeFirst()
      if (r === undefined) return
      const payload = { ...(JSON.parse(r.payload) as OidcStatePayload), consumed: Math.floor(Date.now() / 1000) }
      await trx.updateTable('oidc_state').set({ payload: JSON.stringify(payload) }).where('model', '=', model).where('id', '=', id).execute()
    })
  }

  async destroy (model: string, id: string): Promise<void> {
    await this.#db.deleteFrom('oidc_state').where('model', '=', model).where('id', '=', id).execute()
  }

  async revokeByGrantId (model: string, grantId: string): Promise<void> {
    await this.#db.deleteFrom('oidc_state').where('model', '=', model).where('grant_id', '=', grantId).execute()
  }
}
