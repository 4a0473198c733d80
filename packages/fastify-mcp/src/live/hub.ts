import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Implementation, InitializeResult, JSONRPCMessage, RequestId, Server } from '@modelcontextprotocol/server'
import type { BusMessage, McpBus } from '../bus/types.js'
import { RPC } from '../errors.js'
import type { EventStore } from '../events/types.js'
import type { RequestBinding } from '../registry/context.js'
import type { McpRegistry } from '../registry/registry.js'
import type { McpSessionInfo } from '../registry/types.js'
import type { SessionCloseReason, SessionRecord, SessionStore } from '../session/types.js'
import { isLogLevel } from '../protocol/index.js'
import { recordSessionDuration } from '../telemetry/mcp.js'
import type { SessionHandle } from './host.js'
import { StreamRegistry } from './streams.js'
import { bindingOf, SessionTransport, type TransportHost } from './transport.js'


/** A session's server object living on this instance: a cache entry, rebuilt from the record when missing. */
export interface LiveSession extends SessionHandle {
  record: SessionRecord
  info: McpSessionInfo
  server: Server
  transport: SessionTransport
  /** When the record was last confirmed (and touched) in the store. */
  verifiedAt: number
}

export interface HubOptions {
  registry: McpRegistry
  store: SessionStore
  events: EventStore
  bus: McpBus
  serverInfo: Implementation
  instructions: string | undefined
  maxLiveSessions: number
  /** How long a live session's record is trusted without asking the store again. */
  verifyMs: number
  retryMs: number
  keepAliveMs: number
  toolsList: 'all' | 'allowed'
  enforceScopes: boolean
  log: { warn: (obj: object, msg: string) => void }
  /** Most bytes buffered per SSE stream before it is dropped. */
  maxBufferedBytes: number
  /** How long {@link Hub.close} waits for the other instances to acknowledge. Default 2,000 ms. */
  closeAckMs?: number
}

/** Lifecycle events, on `app.mcp.events`. */
export interface McpEvents {
  'session:created': [record: SessionRecord]
  /** `createdAt` and `protocolVersion` when this instance knew the record (always for DELETE and `close`; not for a Redis key that lapsed). */
  'session:closed': [event: { id: string, reason: SessionCloseReason, createdAt?: number, protocolVersion?: string }]
}

function infoOf (record: SessionRecord): McpSessionInfo {
  return { id: record.id, protocolVersion: record.protocolVersion, clientInfo: record.clientInfo, clientCapabilities: record.clientCapabilities }
}

/**
 * The 2025 sessions on this instance: the bounded cache of live session servers (rebuilt from the
 * record when missing), their lifecycle (initialize, adopt, close everywhere), and the bus traffic
 * of sessions (answers, cancellations, ends). Their SSE streams are in {@link StreamRegistry}.
 */
export class Hub implements TransportHost {
  readonly instanceId = randomBytes(6).toString('hex')
  readonly events: EventStore
  readonly lifecycle = new EventEmitter<McpEvents>()
  readonly streams: StreamRegistry
  readonly #o: HubOptions
  readonly #live = new Map<string, LiveSession>()
  readonly #building = new Map<string, Promise<LiveSession>>()
  readonly #broadcastListeners: Array<(message: JSONRPCMessage, uri: string | null) => void> = []
  #unsubscribe: (() => Promise<void>) | null = null

  constructor (options: HubOptions) {
    this.#o = options
    this.events = options.events
    this.streams = new StreamRegistry({
      instanceId: this.instanceId,
      store: options.store,
      events: options.events,
      bus: options.bus,
      retryMs: options.retryMs,
      keepAliveMs: options.keepAliveMs,
      maxBufferedBytes: options.maxBufferedBytes,
      log: options.log
    })
  }

  /** Also hands every broadcast (list changes, resource updates) to `listener` (the 2026 `subscriptions/listen` streams). */
  onBroadcast (listener: (message: JSONRPCMessage, uri: string | null) => void): void {
    this.#broadcastListeners.push(listener)
  }

  async start (): Promise<void> {
    this.#unsubscribe = await this.#o.bus.subscribe((m) => { this.#onBus(m) })
  }

  get store (): SessionStore { return this.#o.store }
  get enforceScopes (): boolean { return this.#o.enforceScopes }
  get toolsList (): 'all' | 'allowed' { return this.#o.toolsList }
  get registry (): McpRegistry { return this.#o.registry }

  /** Number of live servers cached here. */
  get liveCount (): number { return this.#live.size }

  /** Whether a session has anything running or open on this instance (it must then not expire). */
  busy (sessionId: string): boolean {
    const live = this.#live.get(sessionId)
    if (live !== undefined && live.transport.inflight > 0) return true
    return this.streams.holds(sessionId)
  }

  /** Ids of sessions busy on this instance. */
  busySessions (): string[] {
    const ids = this.streams.sessionIds()
    for (const [id, live] of this.#live) if (live.transport.inflight > 0) ids.add(id)
    return [...ids]
  }

  /** Keeps the sessions busy here alive and the stream claims held here fresh. */
  async heartbeat (): Promise<void> {
    for (const id of this.busySessions()) await this.#o.store.touch(id)
    await this.streams.refreshClaims()
  }

  /** Unrelated server messages of a session: its standalone GET stream. */
  async standalone (sessionId: string, message: JSONRPCMessage): Promise<void> {
    await this.streams.standalone(sessionId, message)
  }

  /** Sends a notification to every session (list changes), or to the sessions subscribed to `uri`. */
  async broadcast (message: JSONRPCMessage, uri: string | null): Promise<void> {
    await this.#o.bus.publish({ kind: 'broadcast', message, uri })
  }

  // ---- sessions ------------------------------------------------------------------------------

  #touchLru (live: LiveSession): void {
    this.#live.delete(live.record.id)
    this.#live.set(live.record.id, live)
  }

  #evict (): void {
    if (this.#live.size <= this.#o.maxLiveSessions) return
    for (const [id, live] of this.#live) {
      if (this.#live.size <= this.#o.maxLiveSessions) break
      if (this.busy(id)) continue
      this.#live.delete(id)
      live.server.close().catch(() => {})
    }
  }

  #newServer (record: SessionRecord | null): Server {
    const live = this.#live
    return this.#o.registry.createServer({
      serverInfo: this.#o.serverInfo,
      instructions: this.#o.instructions,
      enforceScopes: this.#o.enforceScopes,
      toolsList: this.#o.toolsList,
      resolve (ctx): RequestBinding {
        const binding = bindingOf(ctx.http?.authInfo)
        if (binding !== undefined) return binding
        const cached = record === null ? undefined : live.get(record.id)
        return { session: cached?.info ?? null, caller: null, request: null, closeStream: () => {} }
      }
    })
  }

  /**
   * The record of a session live here, if it was confirmed in the store less than `verifyMs` ago:
   * hot sessions cost no store round trip. Deletion elsewhere reaches this cache over the bus.
   */
  recent (sessionId: string): SessionRecord | null {
    const live = this.#live.get(sessionId)
    return live !== undefined && Date.now() - live.verifiedAt < this.#o.verifyMs ? live.record : null
  }

  /** Notes that the store just confirmed (and touched) a session; refreshes what other instances may have changed. */
  confirmed (record: SessionRecord): void {
    const live = this.#live.get(record.id)
    if (live === undefined) return
    live.verifiedAt = Date.now()
    live.record.subscriptions = record.subscriptions
    live.record.logLevel = record.logLevel
  }

  // ---- session data: only this layer writes it ---------------------------------------------

  /** Adds a resource subscription to a session's record. */
  async subscribe (record: SessionRecord, uri: string): Promise<void> {
    if (!record.subscriptions.includes(uri)) record.subscriptions = [...record.subscriptions, uri]
    await this.#o.store.update(record.id, { subscriptions: record.subscriptions })
  }

  async unsubscribe (record: SessionRecord, uri: string): Promise<void> {
    record.subscriptions = record.subscriptions.filter((u) => u !== uri)
    await this.#o.store.update(record.id, { subscriptions: record.subscriptions })
  }

  /**
   * Keeps the level of a `logging/setLevel` the session's server is handling, so that a server rebuilt
   * elsewhere applies it too (the SDK validates the level and answers; a bad one is not stored).
   */
  logLevelSet (record: SessionRecord, level: unknown): void {
    if (typeof level !== 'string' || !isLogLevel(level)) return
    record.logLevel = level
    this.#o.store.update(record.id, { logLevel: level }).catch((err: unknown) => { this.#o.log.warn({ err }, 'mcp: could not store the log level') })
  }

  /** The live session for a record, from the cache or rebuilt from the record. */
  async live (record: SessionRecord): Promise<LiveSession> {
    const cached = this.#live.get(record.id)
    if (cached !== undefined) {
      this.#touchLru(cached)
      return cached
    }
    let building = this.#building.get(record.id)
    if (building === undefined) {
      building = this.#rebuild(record).finally(() => { this.#building.delete(record.id) })
      this.#building.set(record.id, building)
    }
    return await building
  }

  async #rebuild (record: SessionRecord): Promise<LiveSession> {
    const transport = new SessionTransport(this, record.id)
    const server = this.#newServer(record)
    await server.connect(transport)
    const init = await transport.internal({
      jsonrpc: '2.0',
      id: `rebuild-${record.id}`,
      method: 'initialize',
      params: { protocolVersion: record.protocolVersion, capabilities: record.clientCapabilities, clientInfo: record.clientInfo ?? { name: 'unknown', version: '0' } }
    })
    if (!('result' in init)) throw new Error(`Session ${record.id} could not be rebuilt`)
    transport.receive({ jsonrpc: '2.0', method: 'notifications/initialized' }, null, null)
    if (record.logLevel !== null) {
      await transport.internal({ jsonrpc: '2.0', id: `rebuild-level-${record.id}`, method: 'logging/setLevel', params: { level: record.logLevel } })
    }
    const live: LiveSession = { record, info: infoOf(record), server, transport, verifiedAt: Date.now() }
    this.#live.set(record.id, live)
    this.#evict()
    return live
  }

  /**
   * Runs `initialize` on a fresh server. Resolves with the live session (not yet stored) and the
   * JSON-RPC response, or with only the response when initialization failed.
   */
  async initialize (message: JSONRPCMessage & { id: RequestId }, principal: SessionRecord['principal']): Promise<{ live: LiveSession | null, response: JSONRPCMessage }> {
    const id = randomBytes(16).toString('base64url')
    const transport = new SessionTransport(this, id)
    const now = Date.now()
    const params = (message as { params?: Record<string, unknown> }).params ?? {}
    const record: SessionRecord = {
      id,
      principal,
      protocolVersion: '',
      clientInfo: (params.clientInfo as Implementation | undefined) ?? null,
      clientCapabilities: (params.capabilities as SessionRecord['clientCapabilities'] | undefined) ?? {},
      logLevel: null,
      subscriptions: [],
      createdAt: now,
      lastSeenAt: now
    }
    const server = this.#newServer(record)
    await server.connect(transport)
    const response = await transport.internal(message)
    if (!('result' in response)) {
      await server.close()
      return { live: null, response }
    }
    record.protocolVersion = (response.result as InitializeResult).protocolVersion
    return { live: { record, info: infoOf(record), server, transport, verifiedAt: now }, response }
  }

  /** Saves a session created by {@link initialize}; false (or `'principal'`) when a session limit is reached. */
  async adopt (live: LiveSession, maxSessions: number, maxPerPrincipal?: number): Promise<boolean | 'principal'> {
    const created = await this.#o.store.create(live.record, maxSessions, maxPerPrincipal)
    if (created !== true) {
      await live.server.close()
      return created
    }
    this.#live.set(live.record.id, live)
    this.#evict()
    this.lifecycle.emit('session:created', live.record)
    return true
  }

  /**
   * Ends a session everywhere: record, stored events, live state on every instance. Resolves once every
   * instance that received the bus message has dropped the session (or after `closeAckMs`), so that no
   * instance serves it from its cache after this returns.
   */
  async close (sessionId: string, reason: SessionCloseReason, known?: SessionRecord): Promise<boolean> {
    const record = known ?? this.#live.get(sessionId)?.record ?? await this.#o.store.get(sessionId)
    const existed = await this.#o.store.delete(sessionId)
    await this.events.deleteSession(sessionId)
    this.#drop(sessionId)
    const ack = randomBytes(8).toString('hex')
    const acked = this.#awaitAcks(ack)
    try {
      const receivers = await this.#o.bus.publish({ kind: 'closed', sessionId, from: this.instanceId, ack })
      await acked.until(typeof receivers === 'number' ? receivers : 0)
    } finally {
      acked.cancel()
    }
    if (existed || reason === 'expired') this.#closed(sessionId, reason, record ?? undefined)
    return existed
  }

  /** Tells the application (`session:closed`) and records `mcp.server.session.duration` when the record is known. */
  #closed (id: string, reason: SessionCloseReason, record: SessionRecord | undefined): void {
    if (record === undefined) {
      this.lifecycle.emit('session:closed', { id, reason })
      return
    }
    recordSessionDuration((Date.now() - record.createdAt) / 1000, record.protocolVersion, null)
    this.lifecycle.emit('session:closed', { id, reason, createdAt: record.createdAt, protocolVersion: record.protocolVersion })
  }

  readonly #acks = new Map<string, { count: number, check: () => void }>()

  /** Counts the acknowledgements of one `closed` message; `until(n)` waits for n of them, bounded by `closeAckMs`. */
  #awaitAcks (ack: string): { until: (n: number) => Promise<void>, cancel: () => void } {
    const entry = { count: 0, check: () => {} }
    this.#acks.set(ack, entry)
    let timer: NodeJS.Timeout | null = null
    return {
      until: async (n) => {
        if (entry.count >= n) return
        await new Promise<void>((resolve) => {
          entry.check = () => { if (entry.count >= n) resolve() }
          timer = setTimeout(() => {
            this.#o.log.warn({ ack, expected: n, received: entry.count }, 'mcp: not every instance acknowledged a closed session in time')
            resolve()
          }, this.#o.closeAckMs ?? 2000)
        })
      },
      cancel: () => {
        if (timer !== null) clearTimeout(timer)
        this.#acks.delete(ack)
      }
    }
  }

  /** Drops what this instance holds of a session (after it ended elsewhere, or expired). */
  #drop (sessionId: string): void {
    const live = this.#live.get(sessionId)
    if (live !== undefined) {
      this.#live.delete(sessionId)
      live.transport.failAll(404, RPC.SESSION_NOT_FOUND, 'Session not found')
      live.server.close().catch(() => {})
    }
    this.streams.drop(sessionId)
  }

  /** Called when a store expired a session by itself. */
  expired (sessionId: string, record?: SessionRecord): void {
    const known = record ?? this.#live.get(sessionId)?.record
    const warn = (err: unknown): void => { this.#o.log.warn({ err, sessionId }, 'mcp: cleanup of an expired session failed') }
    this.events.deleteSession(sessionId).catch(warn)
    this.#drop(sessionId)
    this.#o.bus.publish({ kind: 'closed', sessionId }).catch(warn)
    this.#closed(sessionId, 'expired', known)
  }

  /** Routes a client's answer to a server-to-client request to the server that sent it. */
  async answer (sessionId: string, message: JSONRPCMessage & { id: RequestId }): Promise<void> {
    const live = this.#live.get(sessionId)
    if (live !== undefined && live.transport.answer(message)) return
    const owner = String(message.id).split('.')[0] ?? ''
    if (owner !== this.instanceId) await this.#o.bus.publish({ kind: 'response', instanceId: owner, sessionId, message })
  }

  /** Routes a client notification: `notifications/cancelled` goes to the instance running that request. */
  async notify (live: LiveSession, message: JSONRPCMessage): Promise<void> {
    const m = message as { method: string, params?: { requestId?: RequestId } }
    if (m.method === 'notifications/cancelled' && m.params?.requestId !== undefined && !live.transport.runs(m.params.requestId)) {
      await this.#o.bus.publish({ kind: 'notification', sessionId: live.record.id, message })
      return
    }
    live.transport.receive(message, null, null)
  }

  #onBus (m: BusMessage): void {
    switch (m.kind) {
      case 'event':
        this.streams.deliver(m.sessionId, m.streamId, m.eventId, m.message, m.final)
        break
      case 'response':
        if (m.instanceId === this.instanceId) this.#live.get(m.sessionId)?.transport.answer(m.message as JSONRPCMessage & { id: RequestId })
        break
      case 'notification': {
        const live = this.#live.get(m.sessionId)
        const requestId = (m.message as { params?: { requestId?: RequestId } }).params?.requestId
        if (live !== undefined && requestId !== undefined && live.transport.runs(requestId)) live.transport.receive(m.message, null, null)
        break
      }
      case 'broadcast':
        for (const listener of this.#broadcastListeners) listener(m.message, m.uri)
        void this.streams.broadcastLocal(m.message, m.uri)
        break
      case 'closed':
        this.#drop(m.sessionId)
        if (m.ack !== undefined && m.from !== undefined) {
          this.#o.bus.publish({ kind: 'closed-ack', to: m.from, ack: m.ack }).catch((err: unknown) => { this.#o.log.warn({ err }, 'mcp: could not acknowledge a closed session') })
        }
        break
      case 'closed-ack':
        if (m.to === this.instanceId) {
          const entry = this.#acks.get(m.ack)
          if (entry !== undefined) {
            entry.count++
            entry.check()
          }
        }
        break
    }
  }

  /** Whether a session request runs here (the shutdown drain waits for them). */
  get running (): boolean {
    for (const live of this.#live.values()) if (live.transport.inflight > 0) return true
    return false
  }

  async stop (): Promise<void> {
    await this.#unsubscribe?.()
    this.streams.endAll()
    for (const live of this.#live.values()) {
      live.transport.failAll(503, RPC.UNAVAILABLE, 'Server shutting down')
      await live.server.close()
    }
    this.#live.clear()
  }
}
