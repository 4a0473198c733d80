import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { MemoryBus } from './bus/memory-bus.js'
import { FST_MCP_BODY_TOO_LARGE, FST_MCP_PARSE_ERROR, FST_MCP_UNAUTHORIZED, FST_MCP_UNSUPPORTED_MEDIA_TYPE, RPC, rpcCodeOf } from './errors.js'
import { MemoryEventStore } from './events/memory-store.js'
import { hostOriginGuard, loopbackOnlyGuard, servesLoopbackOnly } from './http/guards.js'
import { jsonParser } from './http/json.js'
import { RateCounter, rateKey } from './http/rate.js'
import { redactUrl } from './http/redact.js'
import { reasonOf, refusalOf, type McpRefusal } from './http/refusal.js'
import { registerRoutes, type ScopeCheck } from './http/routes.js'
import { Hub, type McpEvents } from './live/hub.js'
import { resolveOptions, type FastifyMcpOptions } from './options.js'
import { McpRegistry } from './registry/registry.js'
import type { McpCaller, PromptDefinition, ResourceDefinition, ResourceTemplateDefinition, SchemaLike, ToolDefinition } from './registry/types.js'
import { MemorySessionStore } from './session/memory-store.js'
import type { SessionCloseReason, SessionRecord } from './session/types.js'
import { setupAuth } from './auth/index.js'
import { ModernEndpoint } from './modern/endpoint.js'
import { InputStates } from './modern/input.js'
import { preParseTarget } from './modern/protocol.js'
import type { EventEmitter } from 'node:events'

/** `app.mcp`: declare tools, resources and prompts; manage sessions; notify clients. */
export interface McpDecorator {
  /** The registry the endpoint serves (share it with a stdio server). */
  registry: McpRegistry
  tool: <I extends SchemaLike, O extends SchemaLike>(def: ToolDefinition<I, O>) => McpDecorator
  resource: (def: ResourceDefinition) => McpDecorator
  resourceTemplate: (def: ResourceTemplateDefinition) => McpDecorator
  prompt: (def: PromptDefinition) => McpDecorator
  sessions: {
    count: () => Promise<number>
    list: (limit?: number) => Promise<SessionRecord[]>
    get: (id: string) => Promise<SessionRecord | null>
    /** Ends a session on every instance; later requests with its id get 404. */
    close: (id: string, reason?: SessionCloseReason) => Promise<boolean>
    /** Live session servers cached on this instance. */
    liveCount: () => number
    /** SSE streams open on this instance: 2025 GET (standalone and resumed) streams, and 2026 `subscriptions/listen` streams. */
    streamCount: () => { get: number, listen: number }
  }
  /** `session:created` and `session:closed` (with a reason). */
  events: EventEmitter<McpEvents>
  /** Sends `notifications/resources/updated` to the sessions subscribed to `uri`. */
  resourceUpdated: (uri: string) => Promise<void>
  /** Sends `notifications/{tools,resources,prompts}/list_changed` to every session's GET stream. */
  listChanged: (kind: 'tools' | 'resources' | 'prompts') => Promise<void>
  /** Verifies the request's bearer token and sets `request.mcpAuth` (401 when absent or invalid). */
  authenticate: (request: FastifyRequest) => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    mcp: McpDecorator
  }
  interface FastifyRequest {
    /** The MCP session of this request; null before initialize, in stateless mode and off the MCP routes. */
    mcpSession: SessionRecord | null
    /** The verified caller; null when unauthenticated. */
    mcpAuth: McpCaller | null
  }
}




async function fastifyMcp (app: FastifyInstance, opts: FastifyMcpOptions): Promise<void> {
  const options = resolveOptions(opts)
  const registry = opts.registry ?? new McpRegistry()
  if (options.recordSubject) registry.traceSubject = true
  const store = opts.sessions?.store ?? new MemorySessionStore()
  const events = opts.eventStore ?? new MemoryEventStore()
  const ownBus = opts.bus === undefined
  const bus = opts.bus ?? new MemoryBus()
  const hub = new Hub({
    registry,
    store,
    events,
    bus,
    serverInfo: options.serverInfo,
    instructions: options.instructions,
    maxLiveSessions: options.maxLiveSessions,
    verifyMs: Math.min(1000, Math.floor(options.idleTimeoutMs / 4)),
    retryMs: options.retryMs,
    keepAliveMs: options.keepAliveMs,
    toolsList: options.toolsList,
    enforceScopes: opts.auth !== undefined,
    log: app.log,
    maxBufferedBytes: options.maxBufferedBytes
  })
  store.init({ idleTimeoutMs: options.idleTimeoutMs, onExpired: (id, record) => { hub.expired(id, record) } })

  async function notifyRefusal (request: FastifyRequest, refusal: McpRefusal): Promise<void> {
    try {
      await opts.onRefusal?.(refusal)
    } catch (err) {
      request.log.error({ err }, 'mcp: onRefusal failed')
    }
  }

  if (opts.onRefusal !== undefined) {
    registry.invalidArguments = async (ctx, tool, message) => {
      if (ctx.request === null) return
      await notifyRefusal(ctx.request, refusalOf(ctx.request, 200, 'invalid_params', message, RPC.INVALID_PARAMS, { method: 'tools/call', target: tool }))
    }
  }

  const api: McpDecorator = {
    registry,
    tool (def) { registry.tool(def); return api },
    resource (def) { registry.resource(def); return api },
    resourceTemplate (def) { registry.resourceTemplate(def); return api },
    prompt (def) { registry.prompt(def); return api },
    sessions: {
      count: async () => await store.count(),
      list: async (limit) => await store.list(limit),
      get: async (id) => await store.get(id),
      close: async (id, reason = 'closed') => await hub.close(id, reason),
      liveCount: () => hub.liveCount,
      streamCount: () => ({ get: hub.streams.size, listen: modern?.listeners.size ?? 0 })
    },
    events: hub.lifecycle,
    resourceUpdated: async (uri) => { await hub.broadcast({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } }, uri) },
    listChanged: async (kind) => { await hub.broadcast({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` }, null) },
    authenticate: async (request) => {
      if (auth === null) throw new FST_MCP_UNAUTHORIZED('authentication is not configured')
      await auth.authenticate(request)
    }
  }
  app.decorate('mcp', api)
  app.decorateRequest('mcpSession', null)
  app.decorateRequest('mcpAuth', null)

  const hostOrigin = hostOriginGuard(options.allowedHosts, options.allowedOrigins)
  const loopbackOnly = opts.auth === undefined && !options.allowUnauthenticated ? loopbackOnlyGuard(options.path) : null
  const guard = loopbackOnly === null
    ? hostOrigin
    : (request: FastifyRequest): void => { loopbackOnly(request); hostOrigin(request) }
  const auth = opts.auth === undefined ? null : await setupAuth(app, opts.auth, registry, guard)
  // Fastify logs `req.url` before any hook runs: a credential in the query string of an MCP URL is
  // redacted as the request arrives (the request is refused later, it never needs the value).
  const metadataPrefix = '/.well-known/oauth-protected-resource'
  const redactRequestUrl = (req: { url?: string }): void => {
    const url = req.url
    if (url === undefined || !url.includes('?')) return
    const path = url.slice(0, url.indexOf('?'))
    if (path === options.path || path.startsWith(metadataPrefix)) req.url = redactUrl(url)
  }
  app.server.prependListener('request', redactRequestUrl)
  app.addHook('onClose', function mcpUnhookUrls (_app, done) { app.server.off('request', redactRequestUrl); done() })
  const scopeCheck: ScopeCheck | null = auth?.scopeCheck ?? null
  if (options.eras !== 'legacy' && options.requestStateSecret === undefined && !ownBus) {
    app.log.warn('fastify-mcp: modern.requestStateSecret is not set; 2026-07-28 calls that ask the client for input cannot continue on another instance')
  }
  const modern = options.eras === 'legacy'
    ? null
    : new ModernEndpoint({
      streams: hub.streams,
      registry,
      serverInfo: options.serverInfo,
      instructions: options.instructions,
      toolsList: options.toolsList,
      enforceScopes: auth !== null,
      cacheTtlMs: options.cacheTtlMs,
      cacheScope: auth !== null ? 'private' : 'public',
      maxSubscriptions: options.maxSubscriptions,
      states: new InputStates(options.requestStateSecret, options.requestStateTtlSeconds)
    })
  if (modern !== null) hub.onBroadcast((message, uri) => { modern.deliver(message, uri) })

  // Sessions with an open stream or a running call never expire: refresh them while they are busy.
  const busyEvery = Math.max(200, Math.min(Math.floor(options.idleTimeoutMs / 3), 10_000))
  let busyTimer: NodeJS.Timeout | null = null

  app.addHook('onReady', async function mcpStart () {
    await hub.start()
    busyTimer = setInterval(() => { void hub.heartbeat().catch((err: unknown) => { app.log.warn({ err }, 'mcp: heartbeat failed') }) }, busyEvery)
    busyTimer.unref()
  })
  if (auth === null && !options.allowUnauthenticated) {
    // Requests on non-loopback sockets are refused (loopbackOnlyGuard); say so at start-up too.
    app.addHook('onListen', function mcpWarnOpenEndpoint (done) {
      const address = app.server.address()
      const host = typeof address === 'object' && address !== null ? address.address : null
      if (host !== null && !servesLoopbackOnly(host)) {
        app.log.error(`fastify-mcp: ${options.path} has no authentication: requests arriving on ${host} other than over loopback are refused with 403; configure "auth", or set "allowUnauthenticated: true" if another layer authenticates`)
      }
      done()
    })
  }
  app.addHook('preClose', async function mcpDrain () {
    if (busyTimer !== null) clearInterval(busyTimer)
    // Ends the GET and listen streams (their clients reconnect elsewhere), then waits at most
    // shutdownGraceMs for the calls running here to answer; Fastify already answers new requests with 503.
    hub.streams.endStandalone()
    modern?.closeStreams()
    const deadline = Date.now() + options.shutdownGraceMs
    while ((hub.running || modern?.running === true) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25))
    await hub.stop()
  })
  app.addHook('onClose', async function mcpClose () {
    await auth?.close()
    await store.close()
    await events.close()
    if (ownBus) await bus.close()
  })

  await app.register(async function mcpEndpoint (child) {
    child.removeAllContentTypeParsers()
    child.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: options.bodyLimit }, jsonParser(options.maxJsonDepth))
    const onRefusal = opts.onRefusal ?? null
    child.setErrorHandler(function mcpErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
      // Fastify's own body errors are answered as the plugin's (same status, message and JSON-RPC code).
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') err = new FST_MCP_UNSUPPORTED_MEDIA_TYPE()
      else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') err = new FST_MCP_BODY_TOO_LARGE(options.bodyLimit)
      else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') err = new FST_MCP_PARSE_ERROR('empty body')
      const status = err.statusCode ?? 500
      let message = err.message
      let code = rpcCodeOf(err)
      if (status >= 500 && status !== 503) {
        request.log.error({ err }, 'mcp: internal error')
        message = 'Internal error'
        code = RPC.INTERNAL_ERROR
      }
      if (status === 405) reply.header('allow', options.stateless || options.eras === 'modern' ? 'POST' : 'GET, POST, DELETE')
      if (status === 503 && reply.getHeader('retry-after') === undefined) reply.header('retry-after', '5')
      for (const [k, v] of Object.entries((err as { headers?: Record<string, string> }).headers ?? {})) reply.header(k, v)
      const error: Record<string, unknown> = { code, message }
      const data = (err as { rpcData?: unknown }).rpcData
      if (data !== undefined && status < 500) error.data = data
      const body: Record<string, unknown> = { jsonrpc: '2.0', error }
      const rpcId = (err as { rpcId?: unknown }).rpcId
      if (rpcId !== undefined) body.id = rpcId
      const send = (): FastifyReply => reply.code(status).type('application/json').send(JSON.stringify(body))
      const reason = onRefusal === null ? null : reasonOf(err, status)
      if (onRefusal === null || reason === null) return send()
      // The refusal is recorded (awaited) before it is sent: an audit write lands first.
      return notifyRefusal(request, refusalOf(request, status, reason, message, code)).then(send)
    })
    if (options.cors !== false) {
      const { default: cors } = await import('@fastify/cors')
      const origins = options.cors.origins
      const base = ['Authorization', 'Content-Type', 'Accept', 'Mcp-Session-Id', 'MCP-Protocol-Version', 'Last-Event-ID', 'Mcp-Method', 'Mcp-Name']
      // Tools may be declared after registration, each with its own Mcp-Param-* headers (2026-07-28):
      // the allowed headers follow the registry.
      let corsOptions: Record<string, unknown> | null = null
      registry.on('changed', () => { corsOptions = null })
      await child.register(cors, {
        delegator: (_request, callback) => {
          corsOptions ??= {
            origin: origins,
            methods: ['GET', 'POST', 'DELETE'],
            allowedHeaders: [...base, ...registry.headerNames()],
            exposedHeaders: ['Mcp-Session-Id', 'WWW-Authenticate', 'Retry-After'],
            maxAge: 600
          }
          callback(null, corsOptions)
        }
      })
    }
    // One hook for what every MCP request passes first: Host/Origin, then the bearer token (answered
    // from the cache without a promise when it was verified before), then, for 2026-07-28 requests, the
    // scopes of the target named in Mcp-Name (refused before the body is read).
    const headerScopes = auth !== null && modern !== null
      ? (request: FastifyRequest): void => {
          const target = request.method === 'POST' ? preParseTarget(request) : null
          if (target !== null) auth.scopeCheck(request, target.method, target.params)
        }
      : null
    if (options.rateLimit === false || auth === null) {
      child.addHook('onRequest', function mcpOnRequest (request, _reply, done) {
        try {
          guard(request)
          const pending = auth === null ? null : auth.authenticate(request)
          if (pending === null) {
            headerScopes?.(request)
            done()
            return
          }
          pending.then(() => {
            headerScopes?.(request)
            done()
          }).catch(done)
        } catch (err) {
          done(err as Error)
        }
      })
    } else {
      // With a rate limit, a refused token is counted too: the token is verified first (the key is its
      // principal when it verifies, else the address), the limit decided, and only then the 401 sent —
      // all before the body is read.
      const refusedAuth = new WeakMap<FastifyRequest, Error>()
      const authenticate = auth.authenticate
      child.addHook('onRequest', function mcpOnRequest (request, _reply, done) {
        try {
          guard(request)
        } catch (err) {
          done(err as Error)
          return
        }
        let pending: Promise<void> | null
        try {
          pending = authenticate(request)
        } catch (err) {
          refusedAuth.set(request, err as Error)
          done()
          return
        }
        if (pending === null) done()
        else pending.then(() => { done() }, (err: unknown) => { refusedAuth.set(request, err as Error); done() })
      })
      child.addHook('preParsing', function mcpAuthorize (request, _reply, payload, done) {
        const refused = refusedAuth.get(request)
        if (refused !== undefined) {
          done(refused)
          return
        }
        try {
          headerScopes?.(request)
          done(null, payload)
        } catch (err) {
          done(err as Error)
        }
      })
    }
    let rate: RateCounter | null = null
    if (options.rateLimit !== false) {
      const { default: rateLimit } = await import('@fastify/rate-limit')
      const counter = new RateCounter(options.rateLimit.max, typeof options.rateLimit.timeWindow === 'number' ? options.rateLimit.timeWindow : 60_000)
      rate = counter
      await child.register(rateLimit, {
        max: options.rateLimit.max,
        timeWindow: options.rateLimit.timeWindow,
        // Decided from the headers, before the body is read or parsed.
        hook: 'onRequest',
        store: function mcpRateStore () { return counter } as unknown as NonNullable<Parameters<typeof rateLimit>[1]>['store'],
        keyGenerator: rateKey,
        errorResponseBuilder: (_request, context) => {
          const err = new Error(`Too Many Requests: retry in ${Math.ceil(context.ttl / 1000)} s`) as Error & { statusCode: number }
          err.statusCode = 429
          return err
        }
      })
    }
    registerRoutes(child, { hub, options, scopeCheck, modern, rate })
  })
}

/**
 * Serves the Model Context Protocol over Streamable HTTP.
 *
 * @example
 * const app = Fastify()
 * await app.register(fastifyMcp, { serverInfo: { name: 'demo', version: '1.0.0' } })
 * app.mcp.tool({ name: 'hello', description: 'Says hello', handler: () => ({ content: [{ type: 'text', text: 'hello' }] }) })
 * await app.listen({ port: 3000 })
 */
const plugin = fp(fastifyMcp, { fastify: '5.x', name: '@mcp-fastify/fastify-mcp' })
export default plugin
export { plugin as fastifyMcp }

export { McpRegistry } from './registry/registry.js'
export type { RequestBinding } from './registry/context.js'
export type { CreateServerOptions } from './registry/sdk.js'
export type * from './registry/types.js'
export type { FastifyMcpOptions } from './options.js'
export type { McpRefusal, McpRefusalReason } from './http/refusal.js'
export type { SessionRecord, SessionStore, McpPrincipal, SessionCloseReason } from './session/types.js'
export { MemorySessionStore } from './session/memory-store.js'
export type { EventStore, StoredEvent } from './events/types.js'
export { MemoryEventStore } from './events/memory-store.js'
export type { McpBus, BusMessage } from './bus/types.js'
export { MemoryBus } from './bus/memory-bus.js'
export { errorCodes, McpToolError, RPC } from './errors.js'
export type { AuthOptions, TokenVerifier } from './auth/types.js'
export { requireScopes, resourceMetadataUrl } from './auth/index.js'
export { introspectionVerifier, jwtVerifier, defaultScopes, canonicalResource, type IntrospectionOptions } from './auth/verifiers.js'
export { TokenError } from './auth/types.js'
export type { McpEvents } from './live/hub.js'
export { SUPPORTED_VERSIONS } from './protocol/index.js'
