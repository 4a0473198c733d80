import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { OidcStatePayload, OidcStateStore } from './state-store.js'

/** oidc-provider's adapter constructor (one instance per model name) over an {@link OidcStateStore}. */
export function adapterFor (store: OidcStateStore): new (model: string) => Adapter {
  return class StateStoreAdapter implements Adapter {
    readonly #model: string
    constructor (model: string) { this.#model = model }
    async upsert (id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await store.upsert(this.#model, id, payload as OidcStatePayload, expiresIn)
    }

    async find (id: string): Promise<AdapterPayload | undefined> { return await store.find(this.#model, id) as AdapterPayload | undefined }
    async findByUid (uid: string): Promise<AdapterPayload | undefined> { return await store.findByUid(this.#model, uid) as AdapterPayload | undefined }
    async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> { return await store.findByUserCode(this.#model, userCode) as AdapterPayload | undefined }
    async consume (id: string): Promise<void> { await store.consume(this.#model, id) }
    async destroy (id: string): Promise<void> { await store.destroy(this.#model, id) }
    async revokeByGrantId (grantId: string): Promise<void> { await store.revokeByGrantId(this.#model, grantId) }
  }
}
