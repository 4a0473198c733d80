import type { FastifyReply } from 'fastify'
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/server'
import { logPasses } from '../protocol/index.js'
import type { RequestIO } from '../registry/context.js'
import { withoutKey } from '../registry/sdk.js'
import type { McpContext } from '../registry/types.js'
import { Exchange, type Responder } from './exchange.js'
import type { SessionHandle, StreamHost } from './host.js'


/**
 * One request served by the plugin's own dispatch (the lean 2025 path and every 2026 request): the
 * handler's I/O and the reply. The reply is one JSON body unless the handler sends something first;
 * only then is an {@link Exchange} made, which upgrades the reply to an SSE stream. Its signal is made
 * on first use (most handlers never look at it).
 */
export abstract class Call implements RequestIO, Responder {
  readonly id: RequestId
  readonly method: string
  readonly meta: Record<string, unknown> | undefined
  protected readonly hub: StreamHost
  protected readonly reply: FastifyReply
  #exchange: Exchange | null = null
  #controller: AbortController | null = null

  constructor (hub: StreamHost, reply: FastifyReply, id: RequestId, method: string, meta: Record<string, unknown> | undefined) {
    this.hub = hub
    this.reply = reply
    this.id = id
    this.method = method
    this.meta = meta
  }

  /** The session and protocol version the SSE stream of this call belongs to. */
  protected abstract stream (): { sessionId: string | null, protocolVersion: string }

  /** Called once, when the signal is first asked for. */
  protected watch (_controller: AbortController): void {}

  #signalController (): AbortController {
    if (this.#controller === null) {
      this.#controller = new AbortController()
      this.watch(this.#controller)
    }
    return this.#controller
  }

  get signal (): AbortSignal { return this.#signalController().signal }

  /** Cancels the call (its handler sees the signal fire). */
  abort (reason: Error): void { this.#signalController().abort(reason) }

  #upgrade (): Exchange {
    if (this.#exchange === null) {
      const { sessionId, protocolVersion } = this.stream()
      this.#exchange = new Exchange(this.hub, this.reply, { sessionId, protocolVersion, requestIds: [this.id], batch: false })
    }
    return this.#exchange
  }

  notify = async (n: { method: string, params?: Record<string, unknown> }): Promise<void> => {
    await this.#upgrade().message({ jsonrpc: '2.0', ...n } as JSONRPCMessage)
  }

  /** A message related to this call (a server-to-client request, a notification). */
  async message (message: JSONRPCMessage): Promise<void> {
    await this.#upgrade().message(message)
  }

  /** The response: a JSON body with `status` when nothing was sent before it, else the stream's last event. */
  async respond (message: JSONRPCMessage, status = 200): Promise<void> {
    if (this.#exchange === null) {
      if (this.reply.raw.destroyed || this.reply.sent) return
      this.reply.code(status).header('content-type', 'application/json').send(JSON.stringify(message))
      return
    }
    await this.#exchange.respond(message, status)
  }

  /** SSE polling (2025): close the connection, keep the stream resumable. */
  closeStream (): void { this.#upgrade().closeStream() }

  abandon (id: RequestId): void { this.#upgrade().abandon(id) }

  fail (status: number, code: number, message: string): void { this.#upgrade().fail(status, code, message) }

  abstract log: McpContext['log']
  abstract elicit: McpContext['elicit']
  abstract sample: McpContext['sample']
  abstract roots: McpContext['roots']
}

/** A call in a 2025 session: logs follow the session's level, input requests go to the client over the session. */
export class SessionCall extends Call {
  readonly #live: SessionHandle

  constructor (hub: StreamHost, reply: FastifyReply, live: SessionHandle, id: RequestId, method: string, meta: Record<string, unknown> | undefined) {
    super(hub, reply, id, method, meta)
    this.#live = live
  }

  protected stream (): { sessionId: string, protocolVersion: string } {
    return { sessionId: this.#live.record.id, protocolVersion: this.#live.record.protocolVersion }
  }

  log: McpContext['log'] = async (level, data, logger) => {
    if (!logPasses(level, this.#live.record.logLevel)) return
    await this.notify({ method: 'notifications/message', params: logger === undefined ? { level, data } : { level, data, logger } })
  }

  // Server-to-client requests ride the stream of the request that caused them (not the GET stream).
  elicit: McpContext['elicit'] = async (params, options) => await this.#live.server.elicitInput(params, { ...withoutKey(options), relatedRequestId: this.id })
  sample: McpContext['sample'] = async (params, options) => await this.#live.server.createMessage(params, { ...withoutKey(options), relatedRequestId: this.id }) as never
  roots: McpContext['roots'] = async (options) => await this.#live.server.listRoots(undefined, { ...withoutKey(options), relatedRequestId: this.id })
}

/** A call without a session (2025 stateless mode): no level filter, and no way back to the client for input. */
export class StatelessCall extends Call {
  protected stream (): { sessionId: null, protocolVersion: string } {
    return { sessionId: null, protocolVersion: '2025-03-26' }
  }

  log: McpContext['log'] = async (level, data, logger) => {
    await this.notify({ method: 'notifications/message', params: logger === undefined ? { level, data } : { level, data, logger } })
  }

  #cannotAsk = async (): Promise<never> => { throw new Error('this endpoint is stateless: it cannot send requests to the client') }
  elicit: McpContext['elicit'] = this.#cannotAsk
  sample: McpContext['sample'] = this.#cannotAsk
  roots: McpContext['roots'] = this.#cannotAsk
}
