import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import type { McpBus } from '../bus/types.js'
import type { EventStore } from '../events/types.js'
import type { SseConnection } from './sse.js'
import type { SessionStore } from '../session/types.js'
import type { StreamHost } from './host.js'

export const STANDALONE = 'standalone'
/** How long a stream claim lasts unless refreshed (the heartbeat refreshes claims well before). */
export const CLAIM_TTL_MS = 30_000

export interface StreamRegistryOptions {
  instanceId: string
  store: SessionStore
  events: EventStore
  bus: McpBus
  retryMs: number
  keepAliveMs: number
  /** Most bytes buffered per SSE stream before it is dropped. */
  maxBufferedBytes: number
  log: { warn: (obj: object, msg: string) => void }
}

/**
 * The SSE streams of 2025 sessions open on this instance (GET streams, resumed streams, POST
 * responses sent as SSE), keyed `<session>/<stream>`; their claims across instances (one reader
 * per stream); and delivery of events: stored first, then written to the connection here or
 * published on the bus for the instance that holds it.
 */
export class StreamRegistry implements StreamHost {
  readonly events: EventStore
  readonly retryMs: number
  readonly keepAliveMs: number
  readonly maxBufferedBytes: number
  readonly #o: StreamRegistryOptions
  readonly #streams = new Map<string, SseConnection>()

  constructor (options: StreamRegistryOptions) {
    this.#o = options
    this.events = options.events
    this.retryMs = options.retryMs
    this.keepAliveMs = options.keepAliveMs
    this.maxBufferedBytes = options.maxBufferedBytes
  }

  #key (sessionId: string, streamId: string): string { return `${sessionId}/${streamId}` }

  /** Number of streams attached here. */
  get size (): number { return this.#streams.size }

  /** Whether a session has a stream attached here. */
  holds (sessionId: string): boolean {
    for (const key of this.#streams.keys()) if (key.startsWith(`${sessionId}/`)) return true
    return false
  }

  /** Ids of the sessions with a stream attached here. */
  sessionIds (): Set<string> {
    const ids = new Set<string>()
    for (const key of this.#streams.keys()) ids.add(key.slice(0, key.indexOf('/')))
    return ids
  }

  attachStream (sessionId: string | null, streamId: string, conn: SseConnection): boolean {
    if (sessionId === null) return true
    const key = this.#key(sessionId, streamId)
    const existing = this.#streams.get(key)
    if (existing !== undefined && !existing.closed) return false
    this.#streams.set(key, conn)
    return true
  }

  detachStream (sessionId: string | null, streamId: string, conn: SseConnection): void {
    if (sessionId === null) return
    const key = this.#key(sessionId, streamId)
    if (this.#streams.get(key) === conn) this.#streams.delete(key)
  }

  hasStream (sessionId: string, streamId: string): boolean {
    const c = this.#streams.get(this.#key(sessionId, streamId))
    return c !== undefined && !c.closed
  }

  /** Claims a GET stream across instances (one reader per stream); false when another instance reads it. */
  async claim (sessionId: string, streamId: string): Promise<boolean> {
    return await this.#o.store.claimStream(sessionId, streamId, this.#o.instanceId, CLAIM_TTL_MS)
  }

  async release (sessionId: string, streamId: string): Promise<void> {
    await this.#o.store.releaseStream(sessionId, streamId, this.#o.instanceId)
  }

  /** Renews the claims of the streams held here. */
  async refreshClaims (): Promise<void> {
    for (const key of this.#streams.keys()) {
      const slash = key.indexOf('/')
      await this.#o.store.claimStream(key.slice(0, slash), key.slice(slash + 1), this.#o.instanceId, CLAIM_TTL_MS)
    }
  }

  /** Writes a stored event to the connection holding its stream here; the connection, or null when none does. */
  deliver (sessionId: string, streamId: string, eventId: string, message: JSONRPCMessage | null, final: boolean): SseConnection | null {
    const conn = this.#streams.get(this.#key(sessionId, streamId))
    if (conn === undefined || conn.closed) return null
    conn.event(eventId, message, undefined, final)
    if (final && conn.opened) conn.end()
    return conn
  }

  /**
   * Stores an event of a stream and delivers it to the connection holding that stream, here or elsewhere.
   * Resolves once the local connection can take more (backpressure: a producer awaiting this pauses
   * while its client does not read).
   */
  async emit (sessionId: string, streamId: string, message: JSONRPCMessage, final: boolean, wait = true): Promise<void> {
    const eventId = await this.events.append(sessionId, streamId, message, final)
    const conn = this.deliver(sessionId, streamId, eventId, message, final)
    if (conn === null) await this.#o.bus.publish({ kind: 'event', sessionId, streamId, eventId, message, final })
    else if (wait) await conn.writable()
  }

  async standalone (sessionId: string, message: JSONRPCMessage): Promise<void> {
    await this.emit(sessionId, STANDALONE, message, false)
  }

  /** Delivers a broadcast to the GET streams held here (of the sessions subscribed to `uri`, when given). */
  async broadcastLocal (message: JSONRPCMessage, uri: string | null): Promise<void> {
    for (const key of [...this.#streams.keys()]) {
      if (!key.endsWith(`/${STANDALONE}`)) continue
      const sessionId = key.slice(0, key.indexOf('/'))
      if (uri !== null) {
        const record = await this.#o.store.get(sessionId)
        if (record === null || !record.subscriptions.includes(uri)) continue
      }
      try {
        // One slow reader must not hold the others' notifications: no waiting here (past the bound its stream is dropped).
        await this.emit(sessionId, STANDALONE, message, false, false)
      } catch (err) {
        this.#o.log.warn({ err, sessionId }, 'mcp: broadcast delivery failed')
      }
    }
  }

  /** Ends the streams of a session that ended. */
  drop (sessionId: string): void {
    for (const [key, conn] of this.#streams) {
      if (key.startsWith(`${sessionId}/`)) {
        this.#streams.delete(key)
        conn.end()
      }
    }
  }

  /** Ends the GET streams (shutdown: their clients reconnect elsewhere). */
  endStandalone (): void {
    for (const [key, conn] of this.#streams) if (key.endsWith(`/${STANDALONE}`)) conn.end()
  }

  /** Ends every stream. */
  endAll (): void {
    for (const conn of this.#streams.values()) conn.end()
    this.#streams.clear()
  }
}
