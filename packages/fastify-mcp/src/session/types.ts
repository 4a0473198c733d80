import type { ClientCapabilities, Implementation, LoggingLevel } from '@modelcontextprotocol/server'

/** Who opened a session: sessions are bound to it and answer anyone else with 404. */
export interface McpPrincipal {
  issuer: string | null
  subject: string
  clientId: string | null
}

/**
 * A session as plain data: everything needed to rebuild its live server on any instance.
 * Stores keep it; nothing here is tied to a process.
 */
export interface SessionRecord {
  id: string
  principal: McpPrincipal | null
  protocolVersion: string
  clientInfo: Implementation | null
  clientCapabilities: ClientCapabilities
  /** Level set by `logging/setLevel`, null when never set. */
  logLevel: LoggingLevel | null
  /** Resource URIs the client subscribed to. */
  subscriptions: string[]
  createdAt: number
  lastSeenAt: number
}

export type SessionCloseReason = 'deleted' | 'expired' | 'closed' | 'shutdown'

/** Where session records live. The in-memory store is the default; `RedisSessionStore` shares them between instances. */
export interface SessionStore {
  /**
   * Saves a new record unless `limit` records exist already (resolves false) or, when `perPrincipal` is
   * given, the record's principal (issuer and subject) already holds that many (resolves `'principal'`).
   */
  create: (record: SessionRecord, limit: number, perPrincipal?: number) => Promise<boolean | 'principal'>
  /** The record, or null when unknown or idle longer than the timeout; with `touch`, also restarts its idle timer (one round trip). */
  get: (id: string, touch?: boolean) => Promise<SessionRecord | null>
  /** Marks the session as used now (restarts its idle timer); false when it no longer exists. */
  touch: (id: string) => Promise<boolean>
  /** Updates the mutable parts of a record. */
  update: (id: string, patch: Partial<Pick<SessionRecord, 'logLevel' | 'subscriptions'>>) => Promise<void>
  /** Removes a record; false when it did not exist. */
  delete: (id: string) => Promise<boolean>
  count: () => Promise<number>
  /**
   * Claims the reading of one SSE stream of a session for `holder` (so that a session has one standalone
   * GET stream across all instances); false when someone else holds it. Claims lapse after `ttlMs`
   * unless claimed again by the same holder.
   */
  claimStream: (sessionId: string, streamId: string, holder: string, ttlMs: number) => Promise<boolean>
  /** Releases a claim made by `holder`. */
  releaseStream: (sessionId: string, streamId: string, holder: string) => Promise<void>
  /** Up to `limit` records (for administration). */
  list: (limit?: number) => Promise<SessionRecord[]>
  /**
   * Called once by the plugin with the idle timeout and a callback for records the store expires by itself
   * (stores that expire passively, such as Redis keys with a TTL, may never call it).
   */
  init: (options: { idleTimeoutMs: number, onExpired: (id: string, record?: SessionRecord) => void }) => void
  close: () => Promise<void>
}
