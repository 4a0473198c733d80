import { randomBytes } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/server'
import { SseConnection } from './sse.js'
import type { StreamHost } from './host.js'

/** Where the SDK transport sends what belongs to a request in flight: related messages, its response. */
export interface Responder {
  message: (message: JSONRPCMessage) => Promise<void>
  respond: (message: JSONRPCMessage, status?: number) => Promise<void>
  /** The request was cancelled: it gets no response. */
  abandon: (id: RequestId) => void
  /** The session went away: answer with an HTTP error if nothing was sent yet. */
  fail: (status: number, code: number, message: string) => void
}

/**
 * One POST carrying one request (or a 2025-03-26 batch of them): answers with a single JSON body when
 * the handler sends nothing before its result, and upgrades to an SSE stream the moment it does
 * (progress, logs, server-to-client requests). After the connection closes — client disconnect or
 * `closeStream()` — the stream lives on in the event store and can be resumed with GET + Last-Event-ID.
 */
export class Exchange implements Responder {
  readonly #hub: StreamHost
  readonly #reply: FastifyReply
  readonly #sessionId: string | null
  readonly #priming: boolean
  readonly #headers: Record<string, string>
  readonly #batch: boolean
  readonly #pending: Set<RequestId>
  readonly #responses: JSONRPCMessage[] = []
  #mode: 'pending' | 'json' | 'sse' | 'detached' = 'pending'
  #streamId: string | null = null
  #conn: SseConnection | null = null
  #chain: Promise<void> = Promise.resolve()
  #resolveDone!: () => void
  /** Resolves once every request of this exchange has been answered. */
  readonly done: Promise<void>

  constructor (hub: StreamHost, reply: FastifyReply, options: { sessionId: string | null, protocolVersion: string, requestIds: RequestId[], batch: boolean, headers?: Record<string, string> }) {
    this.#hub = hub
    this.#reply = reply
    this.#sessionId = options.sessionId
    this.#priming = options.sessionId !== null && options.protocolVersion >= '2025-11-25'
    this.#headers = options.headers ?? {}
    this.#batch = options.batch
    this.#pending = new Set(options.requestIds)
    this.done = new Promise((resolve) => { this.#resolveDone = resolve })
    // Made lazily by a call, an exchange can begin after its client went away.
    if (reply.raw.destroyed) this.#detach()
    else {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) this.#detach()
      })
    }
  }

  /** Whether this exchange waits for the response to `id`. */
  has (id: RequestId): boolean { return this.#pending.has(id) }

  #queued = 0

  #serial (fn: () => Promise<void>): Promise<void> {
    this.#queued++
    const run = this.#chain.then(fn).finally(() => { this.#queued-- })
    this.#chain = run.catch(() => {})
    return run
  }

  #replyJson (status = 200): void {
    this.#mode = 'json'
    const body = this.#batch ? this.#responses : this.#responses[0]
    if (Object.keys(this.#headers).length > 0) this.#reply.headers(this.#headers)
    this.#reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body))
  }

  async #openSse (): Promise<void> {
    if (this.#mode !== 'pending') return
    this.#mode = 'sse'
    this.#streamId = randomBytes(8).toString('hex')
    this.#conn = new SseConnection(this.#reply, this.#headers, this.#hub.keepAliveMs, this.#hub.maxBufferedBytes)
    this.#conn.open()
    this.#conn.onClose(() => { this.#hub.detachStream(this.#sessionId, this.#streamId as string, this.#conn as SseConnection) })
    this.#hub.attachStream(this.#sessionId, this.#streamId, this.#conn)
    if (this.#priming && this.#sessionId !== null) {
      const id = await this.#hub.events.append(this.#sessionId, this.#streamId, null, false)
      this.#conn.event(id, null, this.#hub.retryMs)
    }
  }

  async #emit (message: JSONRPCMessage, final: boolean): Promise<void> {
    if (this.#sessionId !== null && this.#streamId !== null) {
      await this.#hub.emit(this.#sessionId, this.#streamId, message, final)
    } else if (this.#conn !== null) {
      this.#conn.event(null, message)
      if (final) this.#conn.end()
      else await this.#conn.writable()
    }
  }

  /** A request or notification related to one of this exchange's requests. */
  async message (message: JSONRPCMessage): Promise<void> {
    await this.#serial(async () => {
      if (this.#mode === 'pending') await this.#openSse()
      if (this.#mode === 'json') return
      await this.#emit(message, false)
    })
  }

  /** The response to one of this exchange's requests (`status` applies while it can still be a JSON body). */
  async respond (message: JSONRPCMessage, status = 200): Promise<void> {
    // The common case — nothing was sent before the only response — needs no queue and no promise hop.
    if (this.#queued === 0 && this.#mode === 'pending' && !this.#batch) {
      this.#pending.delete((message as { id: RequestId }).id)
      this.#responses.push(message)
      this.#replyJson(status)
      this.#resolveDone()
      return
    }
    await this.#serial(async () => {
      const id = (message as { id: RequestId }).id
      this.#pending.delete(id)
      const last = this.#pending.size === 0
      if (this.#mode === 'pending') {
        this.#responses.push(message)
        if (last) this.#replyJson(status)
      } else {
        await this.#emit(message, last)
      }
      if (last) this.#resolveDone()
    })
  }

  /** A request of this exchange was cancelled: it gets no response; end the exchange if it was the last. */
  abandon (id: RequestId): void {
    this.#serial(async () => {
      if (!this.#pending.delete(id) || this.#pending.size > 0) return
      if (this.#mode === 'pending') {
        if (this.#responses.length > 0) {
          this.#replyJson()
        } else {
          await this.#openSse()
          this.#conn?.end()
        }
      } else {
        this.#conn?.end()
      }
      this.#resolveDone()
    }).catch(() => {})
  }

  /** SSE polling: close the connection (after a `retry` hint) but keep the stream resumable. */
  closeStream (): void {
    if (!this.#priming) return
    this.#serial(async () => {
      if (this.#mode === 'pending') await this.#openSse()
      if (this.#mode !== 'sse' || this.#conn === null) return
      this.#conn.event(null, null, this.#hub.retryMs)
      this.#conn.end()
      this.#mode = 'detached'
    }).catch(() => {})
  }

  #detach (): void {
    if (this.#mode === 'sse' || this.#mode === 'pending') this.#mode = this.#streamId === null ? 'json' : 'detached'
  }

  /** Ends the exchange with an HTTP error when nothing was sent yet (the session went away). */
  fail (status: number, code: number, message: string): void {
    this.#serial(async () => {
      if (this.#mode === 'pending') {
        this.#mode = 'json'
        this.#reply.code(status).headers({ 'content-type': 'application/json' }).send(JSON.stringify({ jsonrpc: '2.0', error: { code, message } }))
      } else {
        this.#conn?.end()
      }
      this.#pending.clear()
      this.#resolveDone()
    }).catch(() => {})
  }
}
