import { context } from '@opentelemetry/api'
import type { FastifyReply, FastifyRequest } from 'fastify'
import {
  isSpecType,
  ProtocolError,
  type ClientCapabilities,
  type Implementation,
  type InboundClassificationOutcome,
  type JSONRPCMessage,
  type LoggingLevel,
  type RequestId,
  type SubscriptionFilter
} from '@modelcontextprotocol/server'
import { errorResponse, FST_MCP_BAD_REQUEST, FST_MCP_INVALID_PARAMS, FST_MCP_METHOD_NOT_FOUND, FST_MCP_UNAVAILABLE, RPC, rpcError } from '../errors.js'
import { Call } from '../live/call.js'
import { logPasses } from '../protocol/index.js'
import type { StreamHost } from '../live/host.js'
import { InputRequiredSignal } from '../registry/input.js'
import type { RequestBinding } from '../registry/context.js'
import type { McpRegistry } from '../registry/registry.js'
import type { InputOptions, McpContext } from '../registry/types.js'
import { ownerKey, principalOf } from '../session/principal.js'
import { InputRound, InputStates } from './input.js'
import { Listeners } from './listen.js'
import { endWithError, startOperation, telemetryEnabled, TRACED_IN_REGISTRY } from '../telemetry/mcp.js'
import { checkHeaders, isObject, META, MODERN_VERSIONS, nameOf, readEnvelope, type Envelope } from './protocol.js'

/** Methods whose results carry caching hints (`ttlMs`, `cacheScope`). */
const CACHEABLE = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read'])
/** Methods that may answer `input_required`. */
const MAY_ASK = new Set(['tools/call', 'prompts/get', 'resources/read'])

export interface ModernOptions {
  /** Event storage and stream settings for SSE responses (a sessionless call registers no stream). */
  streams: StreamHost
  registry: McpRegistry
  serverInfo: Implementation
  instructions: string | undefined
  toolsList: 'all' | 'allowed'
  enforceScopes: boolean
  cacheTtlMs: number
  /** `private` when results may depend on who asks (authenticated endpoints), else `public`. */
  cacheScope: 'public' | 'private'
  maxSubscriptions: number
  states: InputStates
}

/** A 2026-07-28 call: no session; cancelled by closing the connection; input requests go through its round. */
class ModernCall extends Call {
  readonly #logLevel: LoggingLevel | null
  round: InputRound | null = null

  constructor (hub: StreamHost, reply: FastifyReply, id: RequestId, method: string, meta: Record<string, unknown>, logLevel: LoggingLevel | null) {
    super(hub, reply, id, method, meta)
    this.#logLevel = logLevel
  }

  protected stream (): { sessionId: null, protocolVersion: string } {
    return { sessionId: null, protocolVersion: MODERN_VERSIONS[0] as string }
  }

  protected override watch (controller: AbortController): void {
    const raw = this.reply.raw
    if (raw.destroyed) controller.abort(new Error('the client closed the connection'))
    else raw.once('close', () => { if (!raw.writableFinished) controller.abort(new Error('the client closed the connection')) })
  }

  /** Logs go out only when the request asked for them, at or above the level it named. */
  log: McpContext['log'] = async (level, data, logger) => {
    if (this.#logLevel === null || !logPasses(level, this.#logLevel)) return
    await this.notify({ method: 'notifications/message', params: logger === undefined ? { level, data } : { level, data, logger } })
  }

  #ask<T> (kind: 'elicitation/create' | 'sampling/createMessage' | 'roots/list', params: Record<string, unknown>, options: InputOptions | undefined): Promise<T> {
    const p = this.round === null
      ? Promise.reject(new ProtocolError(RPC.INTERNAL_ERROR, `${this.method} cannot ask the client for input under 2026-07-28 (only tools/call, prompts/get and resources/read can)`))
      : this.round.ask<T>(kind, params, options)
    p.catch(() => {}) // a handler that drops the promise must not crash the process
    return p
  }

  elicit: McpContext['elicit'] = async (params, options) => await this.#ask('elicitation/create', params as unknown as Record<string, unknown>, options)
  sample: McpContext['sample'] = async (params, options) => await this.#ask('sampling/createMessage', params as unknown as Record<string, unknown>, options)
  roots: McpContext['roots'] = async (options) => await this.#ask('roots/list', {}, options)
}

/**
 * The 2026-07-28 side of the endpoint: stateless, every request on its own, served from the same
 * registry as the 2025 sessions. Checks the envelope and the routing headers, dispatches, and shapes
 * results (`resultType`, caching hints, `serverInfo`).
 */
export class ModernEndpoint {
  /** The `subscriptions/listen` streams open here (broadcasts reach them through {@link deliver}). */
  readonly listeners: Listeners
  readonly #o: ModernOptions
  readonly #serverInfoMeta: Record<string, unknown>
  /** Calls running here, for the shutdown drain. */
  #calls = 0

  constructor (options: ModernOptions) {
    this.#o = options
    this.#serverInfoMeta = { [META.serverInfo]: options.serverInfo }
    this.listeners = new Listeners(options.serverInfo, options.streams.keepAliveMs)
  }

  /** Whether a call runs here. */
  get running (): boolean { return this.#calls > 0 }

  /** Hands a broadcast (list change, resource update, from any instance) to the listen streams that asked for it. */
  deliver (message: JSONRPCMessage, uri: string | null): void { this.listeners.deliver(message, uri) }

  /** Shutdown: ends the listen streams (their clients reconnect elsewhere). */
  closeStreams (): void { this.listeners.closeAll() }

  /** Serves one POST the era classifier sent here (a modern request or notification, or a ladder rejection). */
  async handle (request: FastifyRequest, reply: FastifyReply, outcome: Exclude<InboundClassificationOutcome, { kind: 'legacy' }>): Promise<void> {
    const body = request.body as { id?: unknown }
    if (outcome.kind === 'reject') {
      throw rpcError(Object.assign(new FST_MCP_BAD_REQUEST(outcome.message), { statusCode: outcome.httpStatus }), { code: outcome.code, data: outcome.data, id: body?.id })
    }
    if (outcome.messageKind === 'notification') {
      // This revision defines no client notifications over HTTP (cancellation is closing the stream).
      reply.code(202).send()
      return
    }
    const m = outcome.message as { id: RequestId, method: string, params?: Record<string, unknown> }
    const id = m.id
    const params = m.params ?? {}
    const meta = params._meta as Record<string, unknown>
    const envelope = readEnvelope(request, id, meta)
    const toolHeaders = m.method === 'tools/call' && typeof params.name === 'string' ? this.#o.registry.toolHeaders(params.name) : []
    checkHeaders(request, id, m.method, params, toolHeaders)
    if (!this.#serves(m.method)) throw rpcError(new FST_MCP_METHOD_NOT_FOUND(m.method), { id })
    if (m.method === 'subscriptions/listen') {
      this.#listen(request, reply, id, params)
      return
    }
    const call = new ModernCall(this.#o.streams, reply, id, m.method, meta, envelope.logLevel)
    this.#calls++
    // tools/call, resources/read and prompts/get get their spans from the registry (which knows the outcome).
    const op = TRACED_IN_REGISTRY.has(m.method) || !telemetryEnabled()
      ? null
      : startOperation({ method: m.method }, {
        request, meta, protocolVersion: envelope.protocolVersion, requestId: id, sessionId: null, subject: this.#o.registry.traceSubject ? request.mcpAuth?.subject : undefined
      })
    try {
      const result = op === null
        ? await this.#dispatch(request, call, params, envelope)
        : await context.with(op.context, async () => await this.#dispatch(request, call, params, envelope))
      op?.end(null)
      await call.respond({ jsonrpc: '2.0', id, result })
    } catch (err) {
      if (op !== null) endWithError(op, err)
      if (!(err instanceof ProtocolError)) request.log.error({ err }, 'mcp: a handler failed')
      await call.respond(errorResponse(id, err), err instanceof ProtocolError && err.code === RPC.MISSING_CLIENT_CAPABILITY ? 400 : 200)
    } finally {
      this.#calls--
    }
  }

  /** The methods of 2026-07-28 this registry can answer (others are 404 -32601, before anything runs). */
  #serves (method: string): boolean {
    const registry = this.#o.registry
    switch (method) {
      case 'server/discover': case 'tools/list': case 'tools/call': case 'subscriptions/listen': return true
      case 'resources/list': case 'resources/templates/list': case 'resources/read': return registry.hasResources
      case 'prompts/list': case 'prompts/get': return registry.hasPrompts
      case 'completion/complete': return registry.capabilities().completions !== undefined
      default: return false
    }
  }

  async #dispatch (request: FastifyRequest, call: ModernCall, params: Record<string, unknown>, envelope: Envelope): Promise<Record<string, unknown>> {
    const o = this.#o
    const registry = o.registry
    const method = call.method
    const binding: RequestBinding = {
      session: null,
      caller: request.mcpAuth,
      request,
      closeStream: () => {},
      client: { protocolVersion: envelope.protocolVersion, info: envelope.clientInfo, capabilities: envelope.clientCapabilities }
    }
    const ctx = (): McpContext => registry.context(call, binding)
    if (MAY_ASK.has(method)) {
      call.round = params.requestState === undefined && params.inputResponses === undefined
        ? new InputRound(NONE, NONE, envelope.clientCapabilities)
        : await this.#round(request, call, params, envelope.clientCapabilities)
    }

    let result: Record<string, unknown>
    try {
      switch (method) {
        case 'server/discover':
          result = { supportedVersions: MODERN_VERSIONS, capabilities: registry.capabilities() }
          if (o.instructions !== undefined) result.instructions = o.instructions
          break
        case 'tools/list':
          result = registry.listTools(binding, cursorOf(params), { toolsList: o.toolsList })
          break
        case 'tools/call':
          result = await registry.callTool(stringParam(params, 'name'), objectParam(params, 'arguments'), ctx(), o.enforceScopes)
          break
        case 'resources/list':
          result = await registry.listResources(ctx(), cursorOf(params))
          break
        case 'resources/templates/list':
          result = registry.listResourceTemplates(cursorOf(params))
          break
        case 'resources/read':
          result = await registry.readResource(stringParam(params, 'uri'), ctx(), o.enforceScopes)
          break
        case 'prompts/list':
          result = registry.listPrompts(cursorOf(params))
          break
        case 'prompts/get': {
          const args = objectParam(params, 'arguments')
          if (args !== undefined && !Object.values(args).every((v) => typeof v === 'string')) throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: prompt arguments must be strings')
          result = await registry.getPrompt(stringParam(params, 'name'), args as Record<string, string> | undefined, ctx(), o.enforceScopes)
          break
        }
        case 'completion/complete':
          if (!isSpecType.CompleteRequestParams(params)) throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: completion/complete needs { ref, argument: { name, value } }')
          result = await registry.complete(params, request.mcpAuth, o.enforceScopes)
          break
        default:
          throw new ProtocolError(RPC.METHOD_NOT_FOUND, `Method not found: ${method}`)
      }
    } catch (err) {
      const round = call.round
      if (!(err instanceof InputRequiredSignal) || round === null || !round.pending) throw err
    }
    const round = call.round
    if (round !== null && round.pending) {
      const ir = await o.states.result(round, stateBinding(request, method, params))
      return { ...ir, _meta: this.#serverInfoMeta }
    }
    const shaped: Record<string, unknown> = { ...result!, resultType: 'complete' }
    if (CACHEABLE.has(method)) {
      shaped.ttlMs = o.cacheTtlMs
      shaped.cacheScope = o.cacheScope
    }
    const own = result!._meta as Record<string, unknown> | undefined
    shaped._meta = own === undefined ? this.#serverInfoMeta : { ...own, ...this.#serverInfoMeta }
    return shaped
  }

  /** The input round of a call that may ask the client: earlier answers from `requestState`, this retry's from `inputResponses`. */
  async #round (request: FastifyRequest, call: ModernCall, params: Record<string, unknown>, caps: ClientCapabilities): Promise<InputRound> {
    const fresh = params.inputResponses
    if (fresh !== undefined && !isObject(fresh)) throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: "inputResponses" must be an object')
    const state = params.requestState
    let earlier: Record<string, unknown> = {}
    if (state !== undefined) {
      if (typeof state !== 'string') throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: "requestState" must be a string')
      earlier = await this.#o.states.open(state, stateBinding(request, call.method, params))
    }
    return new InputRound(earlier, fresh ?? {}, caps)
  }

  #listen (request: FastifyRequest, reply: FastifyReply, id: RequestId, params: Record<string, unknown>): void {
    const o = this.#o
    const asked = params.notifications
    if (!isSpecType.SubscriptionFilter(asked) || !isObject(asked)) {
      throw rpcError(new FST_MCP_INVALID_PARAMS('subscriptions/listen needs "notifications", a subscription filter'), { id })
    }
    if (this.listeners.size >= o.maxSubscriptions) throw rpcError(new FST_MCP_UNAVAILABLE('the subscription limit is reached, retry later'), { code: RPC.SERVER_ERROR, id })
    const caps = o.registry.capabilities()
    const filter = asked as SubscriptionFilter
    const honoured: SubscriptionFilter = {}
    if (filter.toolsListChanged === true && caps.tools?.listChanged === true) honoured.toolsListChanged = true
    if (filter.promptsListChanged === true && caps.prompts?.listChanged === true) honoured.promptsListChanged = true
    if (filter.resourcesListChanged === true && caps.resources?.listChanged === true) honoured.resourcesListChanged = true
    if (Array.isArray(filter.resourceSubscriptions) && caps.resources?.subscribe === true) {
      const caller = request.mcpAuth
      const uris = filter.resourceSubscriptions.filter((uri) => o.registry.subscribable(uri) && o.registry.permits(caller, 'resources/read', { uri }))
      if (uris.length > 0) honoured.resourceSubscriptions = uris
    }
    const exp = request.mcpAuth?.expiresAt
    this.listeners.open(reply, id, honoured, typeof exp === 'number' ? exp * 1000 : null)
  }
}

const NONE: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

function cursorOf (params: Record<string, unknown>): string | undefined {
  const c = params.cursor
  if (c !== undefined && typeof c !== 'string') throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: "cursor" must be a string')
  return c
}

function stringParam (params: Record<string, unknown>, name: string): string {
  const v = params[name]
  if (typeof v !== 'string') throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid params: "${name}" must be a string`)
  return v
}

function objectParam (params: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const v = params[name]
  if (v !== undefined && !isObject(v)) throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid params: "${name}" must be an object`)
  return v
}

/** What sealed input state is bound to: the caller, the method and its target. */
function stateBinding (request: FastifyRequest, method: string, params: Record<string, unknown>): string {
  return InputStates.binding(ownerKey(principalOf(request.mcpAuth)), method, nameOf(method, params))
}
