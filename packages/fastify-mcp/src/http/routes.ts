import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/server'
import {
  RPC,
  FST_MCP_ALREADY_INITIALIZED,
  FST_MCP_BAD_EVENT_ID,
  FST_MCP_INVALID_REQUEST,
  FST_MCP_METHOD_NOT_ALLOWED,
  FST_MCP_SESSION_NOT_FOUND,
  FST_MCP_SESSION_REQUIRED,
  FST_MCP_STREAM_CONFLICT,
  FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS,
  FST_MCP_TOO_MANY_SESSIONS,
  FST_MCP_UNSUPPORTED_VERSION,
  errorResponse,
  rpcError
} from '../errors.js'
import { parseEventId } from '../events/types.js'
import { Exchange } from '../live/exchange.js'
import type { Hub, LiveSession } from '../live/hub.js'
import { STANDALONE } from '../live/streams.js'
import { SessionTransport } from '../live/transport.js'
import { classifyInboundRequest, ProtocolError, type InboundClassificationOutcome } from '@modelcontextprotocol/server'
import type { ModernEndpoint } from '../modern/endpoint.js'
import { META, MODERN_VERSIONS } from '../modern/protocol.js'
import type { RequestBinding } from '../registry/context.js'
import { SessionCall, StatelessCall } from '../live/call.js'
import { principalOf, samePrincipal } from '../session/principal.js'
import type { SessionRecord } from '../session/types.js'
import type { ResolvedOptions } from '../options.js'
import { checkProtocolVersion, requireAccept } from './guards.js'
import type { RateCounter } from './rate.js'
import { SseConnection } from '../live/sse.js'
import { endWithError, endWithResponse, startOperation, telemetryEnabled, type TraceScope } from '../telemetry/mcp.js'
import { headerOf } from '../protocol/index.js'

type Msg = Record<string, unknown>

/** Decides, before dispatch, whether the caller may make a call; throws the 403 challenge if not. */
export type ScopeCheck = (request: FastifyRequest, method: string, params: unknown) => void

function isValidId (id: unknown): id is RequestId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id))
}

/** Classifies one JSON-RPC message, or throws 400 -32600 for anything that is not one. */
function classify (m: unknown): 'request' | 'notification' | 'response' {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new FST_MCP_INVALID_REQUEST('a JSON-RPC message must be an object')
  const msg = m as Msg
  if (msg.jsonrpc !== '2.0') throw new FST_MCP_INVALID_REQUEST('"jsonrpc" must be "2.0"')
  if ('method' in msg) {
    if (typeof msg.method !== 'string') throw new FST_MCP_INVALID_REQUEST('"method" must be a string')
    if ('params' in msg && (typeof msg.params !== 'object' || msg.params === null)) throw new FST_MCP_INVALID_REQUEST('"params" must be an object')
    if (!('id' in msg)) return 'notification'
    if (!isValidId(msg.id)) throw new FST_MCP_INVALID_REQUEST('"id" must be a string or an integer')
    return 'request'
  }
  if (isValidId(msg.id) && (('result' in msg) !== ('error' in msg))) return 'response'
  throw new FST_MCP_INVALID_REQUEST('not a JSON-RPC request, notification or response')
}

function header (request: FastifyRequest, name: string): string | undefined {
  return headerOf(request.headers, name)
}

export interface RouteDeps {
  hub: Hub
  options: ResolvedOptions
  scopeCheck: ScopeCheck | null
  /** The 2026-07-28 side, unless only the legacy era is served. */
  modern: ModernEndpoint | null
  /** The rate limiter's counter, when a rate limit is configured (batches spend one hit per further message). */
  rate: RateCounter | null
}

/** DELETE (and GET) carry no body: drop what would make Fastify read and parse one, whatever `Content-Type` says. */
function ignoreBody (request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const h = request.headers
  if (h['content-type'] !== undefined || h['content-length'] !== undefined || h['transfer-encoding'] !== undefined) {
    delete h['content-type']
    delete h['content-length']
    delete h['transfer-encoding']
  }
  done()
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

/** Whether a `MCP-Protocol-Version` header names a revision of the stateless era (2026-07-28 or later). */
function modernHeader (pv: string | undefined): boolean {
  return pv !== undefined && DATE.test(pv) && pv >= (MODERN_VERSIONS[0] as string)
}

function claimsModern (m: unknown): boolean {
  const meta = (m as { params?: { _meta?: Record<string, unknown> } } | null)?.params?._meta
  return typeof meta === 'object' && meta !== null && META.protocolVersion in meta
}

/**
 * Which era a POST belongs to: null for 2025 traffic (sessions), else the SDK classifier's verdict
 * (a 2026-07-28 message, or the error its ladder answers). The body decides; plain 2025 requests skip
 * the classifier.
 */
function eraOf (request: FastifyRequest, body: unknown): Exclude<InboundClassificationOutcome, { kind: 'legacy' }> | null {
  const pv = header(request, 'mcp-protocol-version')
  const claims = Array.isArray(body) ? body.some(claimsModern) : claimsModern(body)
  if (!claims && !modernHeader(pv)) return null
  // The usual case — one well-formed request whose headers agree with a served revision — needs none of
  // the classifier's (schema-based) rungs; anything else gets its exact verdict.
  const m = body as { id?: unknown, method?: unknown, params?: { _meta?: Record<string, unknown> } }
  if (!Array.isArray(body) && pv !== undefined && MODERN_VERSIONS.includes(pv) && m.params?._meta?.[META.protocolVersion] === pv &&
    typeof m.method === 'string' && header(request, 'mcp-method') === m.method && (body as { jsonrpc?: unknown }).jsonrpc === '2.0' &&
    (typeof m.id === 'string' || (typeof m.id === 'number' && Number.isInteger(m.id)))) {
    return { kind: 'modern', messageKind: 'request', message: body as never, classification: { era: 'modern', revision: pv } }
  }
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: pv,
    mcpMethodHeader: header(request, 'mcp-method'),
    mcpNameHeader: header(request, 'mcp-name'),
    body
  })
  return outcome.kind === 'legacy' ? null : outcome
}

/** Registers POST/GET/DELETE (and 405 for the rest) on the MCP path. */
export function registerRoutes (app: FastifyInstance, deps: RouteDeps): void {
  const { hub, options } = deps
  const store = hub.store

  /** The session named by the request, bound to its caller: 400 without id, 404 when unknown or another principal's. */
  async function lookup (request: FastifyRequest): Promise<SessionRecord> {
    const sid = header(request, 'mcp-session-id')
    if (sid === undefined || sid === '') throw new FST_MCP_SESSION_REQUIRED()
    let record = sid.length > 256 ? null : hub.recent(sid)
    if (record === null && sid.length <= 256) {
      record = await store.get(sid, true)
      if (record !== null) hub.confirmed(record)
    }
    if (record === null) throw new FST_MCP_SESSION_NOT_FOUND()
    if (!samePrincipal(record.principal, principalOf(request.mcpAuth))) throw Object.assign(new FST_MCP_SESSION_NOT_FOUND(), { refusal: 'session_principal_mismatch' })
    checkProtocolVersion(request)
    request.mcpSession = record
    return record
  }

  function binding (request: FastifyRequest, live: LiveSession | null, ex: Exchange): RequestBinding {
    const b: RequestBinding = {
      session: live?.info ?? null,
      caller: request.mcpAuth,
      request,
      closeStream: () => { ex.closeStream() }
    }
    if (live !== null) {
      b.subscribe = async (uri) => { await hub.subscribe(live.record, uri) }
      b.unsubscribe = async (uri) => { await hub.unsubscribe(live.record, uri) }
    }
    return b
  }

  async function initialize (request: FastifyRequest, reply: FastifyReply, message: JSONRPCMessage & { id: RequestId }): Promise<void> {
    if (header(request, 'mcp-session-id') !== undefined) throw new FST_MCP_ALREADY_INITIALIZED()
    const params = (message as { params?: { protocolVersion?: unknown, _meta?: Record<string, unknown> } }).params
    const requested = typeof params?.protocolVersion === 'string' ? params.protocolVersion : ''
    const subject = hub.registry.traceSubject ? request.mcpAuth?.subject : undefined
    const op = startOperation({ method: 'initialize' }, { request, meta: params?._meta, protocolVersion: requested, requestId: message.id, sessionId: null, subject })
    try {
      const response = await initializeSession(request, reply, message)
      if (op !== null) endWithResponse(op, response as { error?: { code: number, message: string } })
    } catch (err) {
      if (op !== null) endWithError(op, err)
      throw err
    }
  }

  async function initializeSession (request: FastifyRequest, reply: FastifyReply, message: JSONRPCMessage & { id: RequestId }): Promise<JSONRPCMessage> {
    if (await store.count() >= options.maxSessions) throw new FST_MCP_TOO_MANY_SESSIONS()
    const { live, response } = await hub.initialize(message, principalOf(request.mcpAuth))
    reply.header('content-type', 'application/json')
    if (live === null) {
      reply.send(JSON.stringify(response))
      return response
    }
    const adopted = await hub.adopt(live, options.maxSessions, options.maxPerPrincipal)
    if (adopted === 'principal') {
      throw Object.assign(new FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS(options.maxPerPrincipal), { headers: { 'retry-after': '60' } })
    }
    if (!adopted) throw new FST_MCP_TOO_MANY_SESSIONS()
    request.mcpSession = live.record
    reply.header('mcp-session-id', live.record.id).send(JSON.stringify(response))
    return response
  }

  async function stateless (request: FastifyRequest, reply: FastifyReply, messages: Msg[], batch: boolean): Promise<void> {
    const requests = messages.filter((m) => 'method' in m && 'id' in m) as Array<JSONRPCMessage & { id: RequestId }>
    if (requests.length === 0) {
      reply.code(202).send()
      return
    }
    if (!batch && lean(request, reply, null, messages[0] as Msg)) return
    const transport = new SessionTransport(hub, undefined)
    const ex = new Exchange(hub.streams, reply, { sessionId: null, protocolVersion: '2025-03-26', requestIds: requests.map((r) => r.id), batch })
    const server = hub.registry.createServer({
      serverInfo: options.serverInfo,
      instructions: options.instructions,
      toolsList: options.toolsList,
      resolve: () => binding(request, null, ex)
    })
    await server.connect(transport)
    const b = binding(request, null, ex)
    for (const m of messages) transport.receive(m as unknown as JSONRPCMessage, 'id' in m && 'method' in m ? ex : null, b)
    ex.done.finally(() => { server.close().catch(() => {}) }).catch(() => {})
  }

  /**
   * The lean path for the hot methods: `ping`, `tools/list` and `tools/call` are served from the registry
   * directly, without the SDK's per-request schema parse and context construction. Same registry, same
   * validation, same errors; server-to-client requests still go through the session's SDK server.
   */
  function lean (request: FastifyRequest, reply: FastifyReply, live: LiveSession | null, m: Msg): boolean {
    const id = m.id as RequestId
    const method = m.method as string
    const params = (m.params ?? {}) as Record<string, unknown>
    const json = (message: JSONRPCMessage): void => { reply.header('content-type', 'application/json').send(JSON.stringify(message)) }
    if (method === 'ping' || method === 'tools/list') {
      const cursor = params.cursor
      if (cursor !== undefined && typeof cursor !== 'string') return false
      const op = telemetryEnabled() ? startOperation({ method }, leanScope(request, live, id, params)) : null
      let response: JSONRPCMessage
      if (method === 'ping') {
        response = { jsonrpc: '2.0', id, result: {} }
      } else {
        const b: RequestBinding = { session: live?.info ?? null, caller: request.mcpAuth, request, closeStream: () => {} }
        try {
          response = { jsonrpc: '2.0', id, result: hub.registry.listTools(b, cursor, { toolsList: hub.toolsList }) }
        } catch (err) {
          response = errorResponse(id, err)
        }
      }
      if (op !== null) endWithResponse(op, response as { error?: { code: number, message: string } })
      json(response)
      return true
    }
    if (method !== 'tools/call') return false
    const name = params.name
    const args = params.arguments
    if (typeof name !== 'string' || (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args)))) {
      json(errorResponse(id, new ProtocolError(RPC.INVALID_PARAMS, 'Invalid params: tools/call needs a string "name" and an object "arguments"')))
      return true
    }
    const meta = params._meta as Record<string, unknown> | undefined
    const call = live === null ? new StatelessCall(hub.streams, reply, id, method, meta) : new SessionCall(hub.streams, reply, live, id, method, meta)
    live?.transport.track(call)
    const b: RequestBinding = { session: live?.info ?? null, caller: request.mcpAuth, request, closeStream: () => { call.closeStream() } }
    hub.registry.callTool(name, args, hub.registry.context(call, b), hub.enforceScopes)
      .then((result): JSONRPCMessage => ({ jsonrpc: '2.0', id, result }), (err: unknown) => errorResponse(id, err))
      .then(async (response) => { if (live === null || live.transport.untrack(call)) await call.respond(response) })
      .catch((err: unknown) => { request.log.error({ err }, 'mcp: could not deliver a response') })
    return true
  }

  function leanScope (request: FastifyRequest, live: LiveSession | null, id: RequestId, params: Record<string, unknown>): TraceScope {
    return {
      request,
      meta: params._meta as Record<string, unknown> | undefined,
      protocolVersion: live?.record.protocolVersion ?? header(request, 'mcp-protocol-version') ?? '2025-03-26',
      requestId: id,
      sessionId: live?.record.id ?? null,
      subject: hub.registry.traceSubject ? request.mcpAuth?.subject : undefined
    }
  }

  // A plain handler that starts the async work: an async handler resolving with (or awaiting) the
  // reply makes Fastify wait on the response stream (Reply.then), which measurably slows every call.
  app.post(options.path, { bodyLimit: options.bodyLimit }, function mcpPost (request, reply) {
    post(request, reply).catch((err: unknown) => {
      if (!reply.sent && !reply.raw.headersSent) reply.send(err as Error)
      else request.log.error({ err }, 'mcp: a request failed after its response started')
    })
  })

  async function post (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    requireAccept(request, ['application/json', 'text/event-stream'])
    const body = request.body
    if (deps.modern !== null) {
      const outcome = eraOf(request, body)
      if (outcome !== null) {
        if (outcome.kind === 'modern' && outcome.messageKind === 'request' && deps.scopeCheck !== null) {
          const m = outcome.message as { method: string, params?: unknown }
          deps.scopeCheck(request, m.method, m.params)
        }
        await deps.modern.handle(request, reply, outcome)
        return
      }
      if (options.eras === 'modern') {
        throw rpcError(new FST_MCP_UNSUPPORTED_VERSION('this endpoint serves only 2026-07-28 (requests carry params._meta with the protocol version; there is no initialize)'), {
          id: (body as { id?: unknown } | null)?.id,
          data: { supported: MODERN_VERSIONS, requested: header(request, 'mcp-protocol-version') ?? (body as { params?: { protocolVersion?: unknown } } | null)?.params?.protocolVersion ?? '' }
        })
      }
    }
    const batch = Array.isArray(body)
    const messages = (batch ? body : [body]) as Msg[]
    if (batch && messages.length === 0) throw new FST_MCP_INVALID_REQUEST('an empty batch')
    if (batch && messages.length > options.maxBatchSize) throw new FST_MCP_INVALID_REQUEST(`a batch of ${messages.length} messages exceeds the limit of ${options.maxBatchSize}`)
    // The request itself was counted before its body was read; each further message costs one more.
    if (batch && deps.rate !== null && messages.length > 1) deps.rate.consume(request, messages.length - 1)
    const kinds = messages.map(classify)
    const init = messages.findIndex((m) => m.method === 'initialize')
    if (init !== -1 && batch) throw new FST_MCP_INVALID_REQUEST('initialize must not be part of a batch')

    if (deps.scopeCheck !== null) {
      for (let i = 0; i < messages.length; i++) {
        if (kinds[i] === 'request') deps.scopeCheck(request, messages[i]?.method as string, messages[i]?.params)
      }
    }
    if (options.stateless) {
      checkProtocolVersion(request)
      await stateless(request, reply, messages, batch)
      return
    }
    if (init !== -1) {
      await initialize(request, reply, messages[0] as unknown as JSONRPCMessage & { id: RequestId })
      return
    }

    const record = await lookup(request)
    if (batch && record.protocolVersion !== '2025-03-26') throw new FST_MCP_INVALID_REQUEST('batches are accepted only in sessions negotiated at 2025-03-26')
    const live = await hub.live(record)
    refuseReusedIds(live, messages, kinds)
    if (!batch && kinds[0] === 'request' && lean(request, reply, live, messages[0] as Msg)) return
    const requests: Array<JSONRPCMessage & { id: RequestId }> = []
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as unknown as JSONRPCMessage & { id: RequestId }
      if (kinds[i] === 'response') await hub.answer(record.id, m)
      else if (kinds[i] === 'notification') await hub.notify(live, m)
      else requests.push(m)
    }
    if (requests.length === 0) {
      reply.code(202).send()
      return
    }
    const ex = new Exchange(hub.streams, reply, { sessionId: record.id, protocolVersion: record.protocolVersion, requestIds: requests.map((r) => r.id), batch })
    const b = binding(request, live, ex)
    for (const r of requests) {
      if ((r as { method?: string }).method === 'logging/setLevel') hub.logLevelSet(record, (r as { params?: { level?: unknown } }).params?.level)
      live.transport.receive(r, ex, b)
    }
  }

  /**
   * Responses are routed by request id, so a request whose id is already in flight in the session (or
   * twice in one batch) would take over the other's answer and leave one of them hanging: it is refused
   * at once, with id null so that the client cannot match the error to the request still running.
   */
  function refuseReusedIds (live: LiveSession, messages: Msg[], kinds: string[]): void {
    let seen: Set<unknown> | null = null
    for (let i = 0; i < messages.length; i++) {
      if (kinds[i] !== 'request') continue
      const id = messages[i]?.id as RequestId
      if (live.transport.runs(id) || seen?.has(id) === true) {
        throw rpcError(new FST_MCP_INVALID_REQUEST(`request id ${JSON.stringify(id)} is already in use in this session (the ids of a session's requests in flight must differ)`), { id: null })
      }
      if (messages.length > 1) (seen ??= new Set()).add(id)
    }
  }

  /** GET and DELETE are 2025 session traffic: 405 when no session era is served, or for a 2026-07-28 client. */
  function sessionMethodsOnly (request: FastifyRequest, what: string): void {
    if (options.stateless || options.eras === 'modern') throw new FST_MCP_METHOD_NOT_ALLOWED(`this endpoint is stateless and ${what}`)
    if (deps.modern !== null && modernHeader(header(request, 'mcp-protocol-version'))) {
      throw Object.assign(new FST_MCP_METHOD_NOT_ALLOWED(`2026-07-28 has no sessions: ${what}`), { headers: { allow: 'POST' } })
    }
  }

  app.get(options.path, { onRequest: ignoreBody }, async function mcpGet (request, reply) {
    sessionMethodsOnly(request, 'offers no GET stream')
    requireAccept(request, ['text/event-stream'])
    const record = await lookup(request)
    const lastEventId = header(request, 'last-event-id')
    const streamId = lastEventId === undefined ? STANDALONE : parseEventId(lastEventId)?.streamId
    if (streamId === undefined) throw new FST_MCP_BAD_EVENT_ID()
    const conflict = streamId === STANDALONE ? 'a GET stream is already open for this session' : 'this stream is already being read'
    if (hub.streams.hasStream(record.id, streamId) || !await hub.streams.claim(record.id, streamId)) throw new FST_MCP_STREAM_CONFLICT(conflict)
    const conn = new SseConnection(reply, {}, options.keepAliveMs, options.maxBufferedBytes)
    if (!hub.streams.attachStream(record.id, streamId, conn)) throw new FST_MCP_STREAM_CONFLICT(conflict)
    conn.onClose(() => {
      hub.streams.detachStream(record.id, streamId, conn)
      void hub.streams.release(record.id, streamId).catch(() => {})
    })
    if (lastEventId !== undefined) {
      const replay = await hub.streams.events.replayAfter(record.id, lastEventId)
      if (replay === null) {
        hub.streams.detachStream(record.id, streamId, conn)
        await hub.streams.release(record.id, streamId)
        throw new FST_MCP_BAD_EVENT_ID()
      }
      conn.open(replay.events)
      return reply
    }
    conn.open()
    if (record.protocolVersion >= '2025-11-25') {
      const id = await hub.streams.events.append(record.id, STANDALONE, null, false)
      conn.event(id, null, options.retryMs)
    }
    return reply
  })

  app.delete(options.path, { onRequest: ignoreBody }, async function mcpDelete (request, reply) {
    sessionMethodsOnly(request, 'has no sessions to delete')
    const record = await lookup(request)
    await hub.close(record.id, 'deleted', record)
    return await reply.code(204).send()
  })

  app.route({
    method: ['PUT', 'PATCH'],
    url: options.path,
    handler: async function mcpOtherMethod (request) {
      throw new FST_MCP_METHOD_NOT_ALLOWED(`${request.method} is not supported on this endpoint`)
    }
  })
}
