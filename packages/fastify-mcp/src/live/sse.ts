import type { FastifyReply } from 'fastify'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import { compareSeq, parseEventId } from '../events/types.js'

/**
 * One open `text/event-stream` HTTP response. Writes events, drops duplicates (an event can reach a
 * connection both by replay and live delivery), sends keep-alive comments, and reports its close.
 */
export class SseConnection {
  readonly #reply: FastifyReply
  readonly #headers: Record<string, string>
  readonly #keepAliveMs: number
  readonly #maxBufferedBytes: number
  #waiting: Promise<void> | null = null
  #opened = false
  #buffer: Array<{ id: string | null, message: JSONRPCMessage | null, final: boolean }> | null = []
  #closed = false
  #lastSeq: number[] | null = null
  #keepAlive: NodeJS.Timeout | null = null
  readonly #onClose: Array<() => void> = []

  /**
   * Nothing is written until {@link open}; events given before are buffered. Past `maxBufferedBytes`
   * waiting in the socket (a client that does not read), the connection is dropped.
   */
  constructor (reply: FastifyReply, headers: Record<string, string>, keepAliveMs: number, maxBufferedBytes = 1024 * 1024) {
    this.#reply = reply
    this.#headers = headers
    this.#keepAliveMs = keepAliveMs
    this.#maxBufferedBytes = maxBufferedBytes
  }

  /** Sends the headers, then `first` (e.g. replayed events), then what was buffered, in order and without duplicates. */
  open (first: Array<{ id: string | null, message: JSONRPCMessage | null, final: boolean }> = []): void {
    if (this.#opened) return
    this.#opened = true
    const reply = this.#reply
    const headers = this.#headers
    const keepAliveMs = this.#keepAliveMs
    reply.hijack()
    const raw = reply.raw
    const inherited = reply.getHeaders() as Record<string, string>
    raw.writeHead(200, {
      ...inherited,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers
    })
    raw.flushHeaders()
    const done = (): void => { this.#finish() }
    raw.on('close', done)
    raw.on('error', done)
    if (keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => { this.#write(': keep-alive\n\n') }, keepAliveMs)
      this.#keepAlive.unref()
    }
    const buffered = this.#buffer ?? []
    this.#buffer = null
    for (const e of [...first, ...buffered]) {
      this.event(e.id, e.message)
      if (e.final) { this.end(); break }
    }
  }

  get closed (): boolean { return this.#closed }
  get opened (): boolean { return this.#opened }

  onClose (fn: () => void): void {
    if (this.#closed) fn()
    else this.#onClose.push(fn)
  }

  #write (chunk: string): void {
    if (this.#closed) return
    const raw = this.#reply.raw
    if (!raw.write(chunk) && raw.writableLength > this.#maxBufferedBytes) {
      // The client is not reading and what waits for it is past the bound: drop the stream (its events
      // stay in the event store, a client resumes with Last-Event-ID).
      raw.destroy()
      this.#finish()
    }
  }

  /**
   * Resolves when the socket can take more (immediately unless a write was refused), or once the
   * connection is gone: producers await it to pause while the client does not read.
   */
  async writable (): Promise<void> {
    if (this.#closed || !this.#opened || !this.#reply.raw.writableNeedDrain) return
    this.#waiting ??= new Promise<void>((resolve) => {
      const raw = this.#reply.raw
      const done = (): void => {
        raw.off('drain', done)
        raw.off('close', done)
        this.#waiting = null
        resolve()
      }
      raw.on('drain', done)
      raw.on('close', done)
    })
    await this.#waiting
  }

  /** Writes one event; ignored when an event of the same stream with an equal or later id was written. */
  event (id: string | null, message: JSONRPCMessage | null, retryMs?: number, final = false): void {
    if (this.#buffer !== null) {
      this.#buffer.push({ id, message, final })
      return
    }
    if (id !== null) {
      const parsed = parseEventId(id)
      if (parsed !== null) {
        if (this.#lastSeq !== null && compareSeq(parsed.seq, this.#lastSeq) <= 0) return
        this.#lastSeq = parsed.seq
      }
    }
    let chunk = ''
    if (id !== null) chunk += `id: ${id}\n`
    if (retryMs !== undefined) chunk += `retry: ${retryMs}\n`
    chunk += message === null ? 'data: \n\n' : `event: message\ndata: ${JSON.stringify(message)}\n\n`
    this.#write(chunk)
  }

  /** Ends the HTTP response. */
  end (): void {
    if (this.#closed) return
    if (!this.#opened) {
      this.#finish()
      return
    }
    this.#reply.raw.end()
    this.#finish()
  }

  #finish (): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive)
    for (const fn of this.#onClose.splice(0)) fn()
  }
}
