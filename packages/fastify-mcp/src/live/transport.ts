import type {
  AuthInfo,
  JSONRPCMessage,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions
} from '@modelcontextprotocol/server'
import { context } from '@opentelemetry/api'
import type { RequestBinding } from '../registry/context.js'
import type { McpRegistry } from '../registry/registry.js'
import { endWithResponse, startOperation, telemetryEnabled, TRACED_IN_REGISTRY, type OperationHandle } from '../telemetry/mcp.js'
import type { Call } from './call.js'
import type { Exchange, Responder } from './exchange.js'
import { headerOf } from '../protocol/index.js'

/** Where a transport sends what belongs to no in-flight request of its own. */
export interface TransportHost {
  readonly instanceId: string
  /** The definitions served (the transport reads `traceSubject`). */
  readonly registry: McpRegistry
  /** Unrelated server messages: the session's standalone GET stream. */
  standalone: (sessionId: string, message: JSONRPCMessage) => Promise<void>
}

function isResponse (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId } {
  return 'id' in m && ('result' in m || 'error' in m)
}

const BINDING = 'fastifyMcpBinding'

/** A stateless request's version: its `MCP-Protocol-Version` header. */
function versionHeader (binding: RequestBinding): string | undefined {
  return binding.request === null ? undefined : headerOf(binding.request.headers, 'mcp-protocol-version')
}

/** Reads the binding a transport attached to a message (see {@link SessionTransport.receive}). */
export function bindingOf (authInfo: AuthInfo | undefined): RequestBinding | undefined {
  return authInfo?.extra?.[BINDING] as RequestBinding | undefined
}

/**
 * The SDK `Transport` of one live session on this instance. Inbound messages come from HTTP exchanges;
 * outbound ones go to the exchange of the request they relate to, or to the standalone stream.
 * Server-to-client request ids are rewritten to `<instance>.<n>` so that an answer arriving on any
 * instance can be routed back to the server that asked.
 */
export class SessionTransport implements Transport {
  sessionId: string | undefined
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined

  readonly #host: TransportHost
  readonly #inflight = new Map<RequestId, Responder>()
  /** Requests served by the plugin's lean path (not dispatched through the SDK). */
  readonly #lean = new Map<RequestId, Call>()
  readonly #outbound = new Map<string, RequestId>()
  #outboundSeq = 0
  #captures = new Map<RequestId, (m: JSONRPCMessage) => void>()
  /** Spans of the requests the SDK dispatches (ping, lists, completion, subscriptions, log level), ended with their response. */
  readonly #operations = new Map<RequestId, OperationHandle>()
  #closed = false

  constructor (host: TransportHost, sessionId: string | undefined) {
    this.#host = host
    this.sessionId = sessionId
  }

  async start (): Promise<void> {}

  /** Number of requests being served. */
  get inflight (): number { return this.#inflight.size }

  /** Whether the request `id` runs here. */
  runs (id: RequestId): boolean { return this.#inflight.has(id) || this.#lean.has(id) }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isResponse(message)) {
      const capture = this.#captures.get(message.id)
      if (capture !== undefined) {
        this.#captures.delete(message.id)
        capture(message)
        return
      }
      const ex = this.#inflight.get(message.id)
      this.#inflight.delete(message.id)
      const op = this.#operations.get(message.id)
      if (op !== undefined) {
        this.#operations.delete(message.id)
        endWithResponse(op, message as { error?: { code: number, message: string } })
      }
      await ex?.respond(message)
      return
    }
    let out = message
    if ('id' in message && 'method' in message) {
      const wireId = `${this.#host.instanceId}.${++this.#outboundSeq}`
      this.#outbound.set(wireId, message.id as RequestId)
      out = { ...message, id: wireId }
    }
    const related = options?.relatedRequestId
    const ex = typeof related === 'string' || typeof related === 'number' ? this.#inflight.get(related) : undefined
    if (ex !== undefined) await ex.message(out)
    else if (this.sessionId !== undefined) await this.#host.standalone(this.sessionId, out)
  }

  /** Feeds a client request or notification from HTTP, with the exchange that answers it and the binding its handler sees. */
  receive (message: JSONRPCMessage, exchange: Exchange | null, binding: RequestBinding | null): void {
    if (exchange !== null && 'id' in message && 'method' in message) this.#inflight.set(message.id, exchange)
    const cancelled = (message as { method?: string, params?: { requestId?: RequestId } })
    if (cancelled.method === 'notifications/cancelled' && cancelled.params?.requestId !== undefined) {
      // No response will come for a cancelled request: close its part of the exchange now.
      const ex = this.#inflight.get(cancelled.params.requestId)
      this.#inflight.delete(cancelled.params.requestId)
      ex?.abandon(cancelled.params.requestId)
      this.#endOperation(cancelled.params.requestId, 'cancelled')
      const lean = this.#lean.get(cancelled.params.requestId)
      if (lean !== undefined) {
        this.#lean.delete(cancelled.params.requestId)
        lean.abort(new Error('cancelled by the client'))
        return
      }
    }
    const extra: MessageExtraInfo = {}
    if (binding !== null) {
      extra.authInfo = {
        token: '',
        clientId: binding.caller?.clientId ?? '',
        scopes: binding.caller?.scopes ?? [],
        extra: { [BINDING]: binding }
      }
    }
    const op = binding !== null && exchange !== null ? this.#startOperation(message, binding) : null
    if (op === null) this.onmessage?.(message, extra)
    else context.with(op.context, () => { this.onmessage?.(message, extra) })
  }

  #startOperation (message: JSONRPCMessage, binding: RequestBinding): OperationHandle | null {
    if (!('id' in message) || !('method' in message) || TRACED_IN_REGISTRY.has(message.method) || !telemetryEnabled()) return null
    const params = message.params as { _meta?: Record<string, unknown> } | undefined
    const op = startOperation({ method: message.method }, {
      request: binding.request,
      meta: params?._meta,
      protocolVersion: binding.session?.protocolVersion ?? binding.client?.protocolVersion ?? versionHeader(binding) ?? '2025-03-26',
      requestId: message.id,
      sessionId: this.sessionId ?? null,
      subject: this.#host.registry.traceSubject ? binding.caller?.subject : undefined
    })
    if (op !== null) this.#operations.set(message.id, op)
    return op
  }

  #endOperation (id: RequestId, errorType: string): void {
    const op = this.#operations.get(id)
    if (op === undefined) return
    this.#operations.delete(id)
    op.end(errorType)
  }

  /** Registers a request the plugin serves itself: related messages go to it, cancellation aborts it. */
  track (call: Call): void {
    this.#inflight.set(call.id, call)
    this.#lean.set(call.id, call)
  }

  /** Ends a lean request: false when it was cancelled meanwhile (then no response may be sent). */
  untrack (call: Call): boolean {
    if (this.#lean.get(call.id) !== call) return false
    this.#inflight.delete(call.id)
    this.#lean.delete(call.id)
    return true
  }

  /** A client's answer to a server-to-client request: true when this transport sent that request. */
  answer (message: JSONRPCMessage & { id: RequestId }): boolean {
    const local = this.#outbound.get(String(message.id))
    if (local === undefined) return false
    this.#outbound.delete(String(message.id))
    this.onmessage?.({ ...message, id: local })
    return true
  }

  /** Sends a request into the server and resolves with its response, without any HTTP exchange (session rebuild). */
  async internal (message: JSONRPCMessage & { id: RequestId }): Promise<JSONRPCMessage> {
    const result = new Promise<JSONRPCMessage>((resolve) => { this.#captures.set(message.id, resolve) })
    this.onmessage?.(message)
    return await result
  }

  /** Fails every exchange still waiting here. */
  failAll (status: number, code: number, text: string): void {
    const seen = new Set<Responder>()
    for (const ex of this.#inflight.values()) {
      if (seen.has(ex)) continue
      seen.add(ex)
      ex.fail(status, code, text)
    }
    this.#inflight.clear()
    for (const op of this.#operations.values()) op.end(String(code), text, code)
    this.#operations.clear()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.onclose?.()
  }
}
