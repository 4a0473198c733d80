import type { Implementation } from '@modelcontextprotocol/server'
import type { McpBus } from './bus/types.js'
import { FST_MCP_OPTIONS } from './errors.js'
import type { EventStore } from './events/types.js'
import type { AuthOptions } from './auth/types.js'
import type { McpRegistry } from './registry/registry.js'
import type { SessionStore } from './session/types.js'
import type { OnRefusal } from './http/refusal.js'

/** Options of the fastify-mcp plugin. */
export interface FastifyMcpOptions {
  /** Path of the MCP endpoint. Default `/mcp`. */
  path?: string
  /** `serverInfo` returned by `initialize`. Required. */
  serverInfo: Implementation
  /** `instructions` returned by `initialize`. */
  instructions?: string
  /** Serve definitions from this registry (to share it with stdio); default a new one, exposed as `app.mcp`. */
  registry?: McpRegistry
  /** Stateless mode for the 2025 protocol versions: no sessions, every POST stands alone, GET/DELETE answer 405. Default false. */
  stateless?: boolean
  /**
   * Which protocol eras the endpoint serves: `both` (default) — 2025 clients open sessions with
   * `initialize`, 2026-07-28 clients send stateless requests — or only `legacy` (2025-11-25, 2025-06-18,
   * 2025-03-26) or only `modern` (2026-07-28).
   */
  eras?: 'both' | 'legacy' | 'modern'
  /** The 2026-07-28 side. */
  modern?: {
    /**
     * HMAC key (at least 32 bytes) sealing the `requestState` of calls that ask the client for input.
     * Every instance behind one endpoint needs the same key. Default: random per process.
     */
    requestStateSecret?: string | Uint8Array
    /** How long a sealed `requestState` stays valid, in seconds. Default 600. */
    requestStateTtlSeconds?: number
    /** `ttlMs` of cacheable results (discover, lists, resource reads). Default 0 (revalidate each time). */
    cacheTtlMs?: number
    /** Most `subscriptions/listen` streams open on this instance; more answer 503. Default 10,000. */
    maxSubscriptions?: number
  }
  sessions?: {
    /** Idle time after which a session expires (never while a stream is open or a call runs). Default 30 min. */
    idleTimeoutMs?: number
    /** Most sessions at once; more answer 503 with Retry-After. Default 10,000. */
    maxSessions?: number
    /** Most live session servers cached on this instance (rebuilt from the record when evicted). Default 1,000. */
    maxLiveSessions?: number
    /** Most sessions one principal (issuer + subject) may hold at once; more answer 429 with Retry-After. Default 100. */
    maxPerPrincipal?: number
    /** Where session records live. Default in memory. */
    store?: SessionStore
  }
  /** Server-Sent Events streams. */
  sse?: {
    /**
     * Most bytes waiting in one stream's socket buffer. Producers (tool progress, logs) pause while the
     * client does not read; a stream still past this bound (events from elsewhere that cannot wait) is
     * dropped, and the client resumes it with Last-Event-ID. Default 1 MiB.
     */
    maxBufferedBytes?: number
  }
  /** Most messages in one JSON-RPC batch (2025-03-26 sessions); more answer 400 with -32600. Default 100. */
  maxBatchSize?: number
  /** Deepest nesting of arrays and objects in a body, checked before it is parsed; deeper answers 400 with -32700. Default 64. */
  maxJsonDepth?: number
  /** Where SSE events are kept for resumption. Default in memory (1,000 events per stream). */
  eventStore?: EventStore
  /** How instances reach each other (Redis pub/sub for several instances). Default in-process. */
  bus?: McpBus
  /** Host names (optionally with port) accepted in `Host`. Default: loopback names when the socket is loopback, else any. */
  allowedHosts?: string[]
  /** Origins accepted in `Origin` (exact `scheme://host[:port]`). Default: loopback origins when the socket is loopback, else none. */
  allowedOrigins?: string[]
  /** Largest accepted body in bytes; larger ones answer 413. Default 4 MiB. */
  bodyLimit?: number
  /** Interval of SSE keep-alive comments on GET streams. Default 15,000 ms. */
  keepAliveMs?: number
  /** The SSE `retry` hint sent to clients, in ms. Default 1,000. */
  retryMs?: number
  /** On close, how long running calls may take to answer before they are failed with 503. Default 10,000 ms. */
  shutdownGraceMs?: number
  /** `all`: tools/list shows every tool with its required scopes in `_meta`; `allowed`: only those the caller may call. Default `all`. */
  toolsList?: 'all' | 'allowed'
  /** JWT bearer authentication; omit to serve unauthenticated (loopback only unless `allowUnauthenticated`). */
  auth?: AuthOptions
  /** Serve without auth on a non-loopback address. Default false. */
  allowUnauthenticated?: boolean
  /** Rate limit on the MCP routes (per verified subject, else per IP), or false. Default false. */
  rateLimit?: false | { max: number, timeWindow: number | string }
  /** CORS for browser clients: an explicit origin allowlist, or false. Default false. */
  cors?: false | { origins: string[] }
  /**
   * Called for every refused request (401, 403, 404 unknown session, 429, 400s of either era) and for a
   * `tools/call` whose arguments fail the input schema; awaited before the refusal is sent. If it
   * throws, the error is logged and the refusal still sent.
   */
  onRefusal?: OnRefusal
  /** OpenTelemetry spans (recorded only when the application registers an SDK). */
  telemetry?: {
    /** Put the verified caller's subject on spans as `enduser.id`. Default false: a subject is personal data. */
    recordSubject?: boolean
  }
}

export interface ResolvedOptions {
  path: string
  serverInfo: Implementation
  instructions: string | undefined
  stateless: boolean
  eras: 'both' | 'legacy' | 'modern'
  requestStateSecret: string | Uint8Array | undefined
  requestStateTtlSeconds: number
  cacheTtlMs: number
  maxSubscriptions: number
  idleTimeoutMs: number
  maxSessions: number
  maxLiveSessions: number
  maxPerPrincipal: number
  maxBufferedBytes: number
  maxBatchSize: number
  maxJsonDepth: number
  allowedHosts: string[] | null
  allowedOrigins: string[] | null
  bodyLimit: number
  keepAliveMs: number
  retryMs: number
  shutdownGraceMs: number
  toolsList: 'all' | 'allowed'
  allowUnauthenticated: boolean
  rateLimit: false | { max: number, timeWindow: number | string }
  cors: false | { origins: string[] }
  recordSubject: boolean
}

function fail (message: string): never {
  throw new FST_MCP_OPTIONS(message)
}

function positiveInt (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

function origins (name: string, list: string[] | undefined): string[] | null {
  if (list === undefined) return null
  if (!Array.isArray(list)) fail(`${name} must be an array of strings`)
  return list.map((o) => {
    if (typeof o !== 'string' || o === '*') fail(`${name} must list explicit values, got ${JSON.stringify(o)}`)
    return o.toLowerCase().replace(/\/$/, '')
  })
}

/** Validates options and applies defaults; throws FST_MCP_OPTIONS with a clear message. */
export function resolveOptions (o: FastifyMcpOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) fail('options are required')
  const path = o.path ?? '/mcp'
  if (typeof path !== 'string' || !path.startsWith('/')) fail(`path must start with "/", got ${JSON.stringify(path)}`)
  if (typeof o.serverInfo?.name !== 'string' || typeof o.serverInfo.version !== 'string') fail('serverInfo { name, version } is required')
  const toolsList = o.toolsList ?? 'all'
  if (toolsList !== 'all' && toolsList !== 'allowed') fail(`toolsList must be "all" or "allowed", got ${JSON.stringify(toolsList)}`)
  if (o.rateLimit !== undefined && o.rateLimit !== false) {
    positiveInt('rateLimit.max', o.rateLimit.max, 1)
  }
  if (o.cors !== undefined && o.cors !== false) origins('cors.origins', o.cors.origins)
  if (o.onRefusal !== undefined && typeof o.onRefusal !== 'function') fail('onRefusal must be a function')
  const recordSubject = o.telemetry?.recordSubject ?? false
  if (typeof recordSubject !== 'boolean') fail(`telemetry.recordSubject must be a boolean, got ${JSON.stringify(recordSubject)}`)
  const eras = o.eras ?? 'both'
  if (eras !== 'both' && eras !== 'legacy' && eras !== 'modern') fail(`eras must be "both", "legacy" or "modern", got ${JSON.stringify(eras)}`)
  if (eras === 'modern' && o.stateless === true) fail('stateless applies to the 2025 protocol versions, which eras: "modern" does not serve')
  const secret = o.modern?.requestStateSecret
  if (secret !== undefined) {
    const bytes = typeof secret === 'string' ? Buffer.byteLength(secret) : secret instanceof Uint8Array ? secret.byteLength : -1
    if (bytes < 32) fail('modern.requestStateSecret must be a string or Uint8Array of at least 32 bytes')
  }
  const cacheTtlMs = o.modern?.cacheTtlMs ?? 0
  if (!Number.isInteger(cacheTtlMs) || cacheTtlMs < 0) fail(`modern.cacheTtlMs must be an integer >= 0, got ${String(cacheTtlMs)}`)
  return {
    path,
    serverInfo: o.serverInfo,
    instructions: o.instructions,
    stateless: o.stateless === true,
    eras,
    requestStateSecret: secret,
    requestStateTtlSeconds: positiveInt('modern.requestStateTtlSeconds', o.modern?.requestStateTtlSeconds, 600),
    cacheTtlMs,
    maxSubscriptions: positiveInt('modern.maxSubscriptions', o.modern?.maxSubscriptions, 10_000),
    idleTimeoutMs: positiveInt('sessions.idleTimeoutMs', o.sessions?.idleTimeoutMs, 30 * 60_000),
    maxSessions: positiveInt('sessions.maxSessions', o.sessions?.maxSessions, 10_000),
    maxLiveSessions: positiveInt('sessions.maxLiveSessions', o.sessions?.maxLiveSessions, 1_000),
    maxPerPrincipal: positiveInt('sessions.maxPerPrincipal', o.sessions?.maxPerPrincipal, 100),
    maxBufferedBytes: positiveInt('sse.maxBufferedBytes', o.sse?.maxBufferedBytes, 1024 * 1024),
    maxBatchSize: positiveInt('maxBatchSize', o.maxBatchSize, 100),
    maxJsonDepth: positiveInt('maxJsonDepth', o.maxJsonDepth, 64),
    allowedHosts: origins('allowedHosts', o.allowedHosts),
    allowedOrigins: origins('allowedOrigins', o.allowedOrigins),
    bodyLimit: positiveInt('bodyLimit', o.bodyLimit, 4 * 1024 * 1024),
    keepAliveMs: positiveInt('keepAliveMs', o.keepAliveMs, 15_000),
    retryMs: positiveInt('retryMs', o.retryMs, 1_000),
    shutdownGraceMs: o.shutdownGraceMs === 0 ? 0 : positiveInt('shutdownGraceMs', o.shutdownGraceMs, 10_000),
    toolsList,
    allowUnauthenticated: o.allowUnauthenticated === true,
    rateLimit: o.rateLimit ?? false,
    cors: o.cors === undefined || o.cors === false ? false : { origins: origins('cors.origins', o.cors.origins) ?? [] },
    recordSubject
  }
}
