import type { OidcStatePayload, OidcStateStore } from './state-store.js'

interface Entry { payload: OidcStatePayload, expiresAt: number | null }

/** The state store for tests and single-process runs without a records store: nothing survives a restart. */
export class MemoryOidcStateStore implements OidcStateStore {
  readonly #entries = new Map<string, Entry>()

  #key (model: string, id: string): string { return `${model}:${id}` }

  #live (key: string): Entry | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }

  async upsert (model: string, id: string, payload: OidcStatePayload, expiresInSeconds?: number): Promise<void> {
    this.#entries.set(this.#key(model, id), { payload: structuredClone(payload), expiresAt: expiresInSeconds === undefined ? null : Date.now() + expiresInSeconds * 1000 })
  }

  async find (model: string, id: string): Promise<OidcStatePayload | undefined> {
    const e = this.#live(this.#key(model, id))
    return e === undefined ? undefined : structuredClone(e.payload)
  }

  async #findBy (model: string, field: 'uid' | 'userCode', value: string): Promise<OidcStatePayload | undefined> {
    for (const [key, e] of this.#entries) {
      if (key.startsWith(`${model}:`) && e.payload[field] === value && this.#live(key) !== undefined) return structuredClone(e.payload)
    }
    return undefined
  }

  async findByUid (model: string, uid: string): Promise<OidcStatePayload | undefined> { return await this.#findBy(model, 'uid', uid) }
  async findByUserCode (model: string, userCode: string): Promise<OidcStatePayload | undefined> { return await this.#findBy(model, 'userCode', userCode) }

  async consume (model: string, id: string): Promise<void> {
    const e = this.#live(this.#key(model, id))
    if (e !== undefined) e.payload.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy (model: string, id: string): Promise<void> { this.#entries.delete(this.#key(model, id)) }

  async revokeByGrantId (model: string, grantId: string): Promise<void> {
    for (const [key, e] of this.#entries) {
      if (key.startsWith(`${model}:`) && e.payload.grantId === grantId) this.#entries.delete(key)
    }
  }
}
