/**
 * Where the built-in authorization server keeps its state (clients, grants, sessions, codes,
 * tokens, interactions): the shape of an oidc-provider adapter, one instance per model name.
 * The records store implements it (PostgreSQL or the embedded engine) so that sign-in works
 * across instances and restarts; `payload` is oidc-provider's own JSON object for the model.
 */
export interface OidcStatePayload {
  [key: string]: unknown
  uid?: string
  userCode?: string
  grantId?: string
  consumed?: number
}

export interface OidcStateStore {
  upsert: (model: string, id: string, payload: OidcStatePayload, expiresInSeconds?: number) => Promise<void>
  find: (model: string, id: string) => Promise<OidcStatePayload | undefined>
  findByUid: (model: string, uid: string) => Promise<OidcStatePayload | undefined>
  findByUserCode: (model: string, userCode: string) => Promise<OidcStatePayload | undefined>
  /** Marks the record consumed (`payload.consumed` = epoch seconds), keeping it. */
  consume: (model: string, id: string) => Promise<void>
  destroy: (model: string, id: string) => Promise<void>
  /** Deletes every record of the model issued under that grant. */
  revokeByGrantId: (model: string, grantId: string) => Promise<void>
}
