import { createHash } from 'node:crypto'
import {
  context, createNoopMeter, metrics, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Attributes, type Context, type Histogram, type Link, type Span, type TextMapGetter, type Tracer
} from '@opentelemetry/api'
import type { RequestId } from '@modelcontextprotocol/server'
import type { McpContext } from '../registry/types.js'

/**
 * OpenTelemetry for MCP requests, following the semantic conventions for MCP (status Development) of
 * open-telemetry/semantic-conventions `docs/gen-ai/mcp.md` at commit 04f167230afe1a2244c4c860cea0e716fb6ee59e.
 * Only `@opentelemetry/api`: the application registers an SDK or not. Without one, `enabled()` is a
 * cached identity check and nothing else runs.
 */
const SCOPE = '@mcp-fastify/fastify-mcp'
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate()
const NOOP_METER = createNoopMeter().constructor

let cachedTracerDelegate: unknown = null
let cachedMeterProvider: unknown = null
let tracer: Tracer | null = null
let duration: Histogram | null = null
let sessionDuration: Histogram | null = null

/** Seconds: the buckets the MCP conventions advise for `mcp.server.*.duration`. */
const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

let enabled = false
let checkAfter = 0

/**
 * Whether a tracer or meter provider is registered. The answer is cached and looked up again at most
 * once a second (an SDK registered later is seen within a second), so a request without an SDK pays
 * one clock read.
 */
export function telemetryEnabled (): boolean {
  const now = Date.now()
  if (now < checkAfter) return enabled
  checkAfter = now + 1000
  enabled = lookUpProviders()
  return enabled
}

/** For tests that register or remove an SDK: look the providers up on the next call. */
export function resetTelemetryCache (): void {
  checkAfter = 0
}

function lookUpProviders (): boolean {
  const delegate = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate()
  if (delegate !== cachedTracerDelegate) {
    cachedTracerDelegate = delegate
    tracer = delegate === NOOP_TRACER_PROVIDER ? null : trace.getTracer(SCOPE)
  }
  const meterProvider = metrics.getMeterProvider()
  if (meterProvider !== cachedMeterProvider) {
    cachedMeterProvider = meterProvider
    const meter = meterProvider.getMeter(SCOPE)
    // The conventions give both MCP durations the same unit and buckets.
    const histogram = (name: string, description: string): Histogram | null => meter instanceof NOOP_METER
      ? null
      : meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } })
    duration = histogram('mcp.server.operation.duration', 'MCP request duration as observed on the receiver from the time it was received until the result or ack is sent.')
    sessionDuration = histogram('mcp.server.session.duration', 'The duration of the MCP session as observed on the MCP server.')
  }
  return tracer !== null || duration !== null
}

const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => { const v = carrier[key]; return typeof v === 'string' ? v : undefined }
}
const headerGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()]
}

/** The methods whose spans the registry starts itself (it knows their target and outcome). */
export const TRACED_IN_REGISTRY: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get'])

/** A session id is a bearer of access: spans carry a digest of it, never the id. */
export function hashSessionId (id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32)
}

export interface Operation {
  method: string
  /** Tool or prompt name (low cardinality), also the span name's target. */
  target?: string | undefined
  toolName?: string | undefined
  promptName?: string | undefined
  /** `resources/read`: the URI read (an attribute only: URIs are not low-cardinality enough for a span name). */
  resourceUri?: string | undefined
}

/** Where a request came from: what a span and its duration point say about it. */
export interface TraceScope {
  /** The HTTP request (its headers may carry trace context); null for a request without HTTP (stdio). */
  request: { headers: Record<string, string | string[] | undefined> } | null
  /** `params._meta`, where the conventions put `traceparent`/`tracestate`. */
  meta: Record<string, unknown> | undefined
  protocolVersion: string
  requestId: RequestId | null | undefined
  sessionId: string | null
  /** The verified caller's subject, only when the plugin's `telemetry.recordSubject` is set. */
  subject?: string | undefined
}

/** The scope of a handler call. */
export function scopeOf (ctx: McpContext, recordSubject: boolean): TraceScope {
  return {
    request: ctx.request,
    meta: ctx.meta,
    protocolVersion: ctx.client.protocolVersion,
    requestId: ctx.requestId,
    sessionId: ctx.session?.id ?? null,
    subject: recordSubject ? ctx.caller?.subject : undefined
  }
}

/** One operation being traced: run its work in `context`, then `end` it once. */
export interface OperationHandle {
  readonly context: Context
  end: (errorType: string | null, message?: string, code?: number) => void
}

/**
 * Starts a SERVER span `{mcp.method.name} {target}` whose parent is the trace context of `params._meta`
 * (as the conventions recommend), else of the HTTP request's headers; when `_meta` carries one, the HTTP
 * context is linked. `end` records `mcp.server.operation.duration`. Null when no SDK is registered.
 */
export function startOperation (op: Operation, scope: TraceScope): OperationHandle | null {
  if (!telemetryEnabled()) return null
  const start = performance.now()
  const headers = scope.request?.headers
  const httpContext = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter)
  const meta = scope.meta
  const metaContext: Context | null = meta !== undefined && typeof meta.traceparent === 'string' ? propagation.extract(ROOT_CONTEXT, meta, metaGetter) : null
  const transport = scope.request === null ? 'pipe' : 'tcp'
  const span = tracer === null ? null : startSpan(op, scope, transport, httpContext, metaContext)
  const parent = metaContext ?? httpContext
  let ended = false
  return {
    context: span === null ? parent : trace.setSpan(parent, span),
    end (errorType, message, code) {
      if (ended) return
      ended = true
      if (duration !== null) {
        const a: Attributes = { 'mcp.method.name': op.method, 'mcp.protocol.version': scope.protocolVersion, 'network.transport': transport }
        if (op.toolName !== undefined) { a['gen_ai.tool.name'] = op.toolName; a['gen_ai.operation.name'] = 'execute_tool' }
        if (op.promptName !== undefined) a['gen_ai.prompt.name'] = op.promptName
        if (errorType !== null) a['error.type'] = errorType
        duration.record((performance.now() - start) / 1000, a)
      }
      if (span === null) return
      if (errorType !== null) {
        span.setAttribute('error.type', errorType)
        if (code !== undefined) span.setAttribute('rpc.response.status_code', String(code))
        span.setStatus({ code: SpanStatusCode.ERROR, ...(message === undefined ? {} : { message }) })
      }
      span.end()
    }
  }
}

function startSpan (op: Operation, scope: TraceScope, transport: string, httpContext: Context, metaContext: Context | null): Span {
  const links: Link[] = []
  const httpSpan = trace.getSpanContext(httpContext)
  if (metaContext !== null && httpSpan !== undefined) links.push({ context: httpSpan })
  const attributes: Attributes = {
    'mcp.method.name': op.method,
    'mcp.protocol.version': scope.protocolVersion,
    'network.transport': transport,
    ...(scope.request === null ? {} : { 'network.protocol.name': 'http' }),
    ...(scope.requestId === null || scope.requestId === undefined ? {} : { 'jsonrpc.request.id': String(scope.requestId) }),
    ...(scope.sessionId === null ? {} : { 'mcp.session.id': hashSessionId(scope.sessionId) }),
    ...(scope.subject === undefined ? {} : { 'enduser.id': scope.subject }),
    ...(op.toolName === undefined ? {} : { 'gen_ai.tool.name': op.toolName, 'gen_ai.operation.name': 'execute_tool' }),
    ...(op.promptName === undefined ? {} : { 'gen_ai.prompt.name': op.promptName }),
    ...(op.resourceUri === undefined ? {} : { 'mcp.resource.uri': op.resourceUri })
  }
  const name = op.target === undefined ? op.method : `${op.method} ${op.target}`
  return (tracer as Tracer).startSpan(name, { kind: SpanKind.SERVER, attributes, links }, metaContext ?? httpContext)
}

/** Ends an operation from a thrown error: a JSON-RPC code when it has one, else the error's name. */
export function endWithError (handle: OperationHandle, err: unknown): void {
  const code = (err as { code?: unknown } | null)?.code
  const rpc = typeof code === 'number' ? code : undefined
  handle.end(rpc === undefined ? ((err as Error | null)?.name ?? '_OTHER') : String(rpc), (err as Error | null)?.message, rpc)
}

/** Ends an operation from the JSON-RPC response sent for it. */
export function endWithResponse (handle: OperationHandle, response: { error?: { code: number, message: string } }): void {
  const error = response.error
  if (error === undefined) handle.end(null)
  else handle.end(String(error.code), error.message, error.code)
}

/**
 * Runs `fn` as one traced operation (see {@link startOperation}). `failure` maps a result to an
 * `error.type` (e.g. `tool_error` for `isError`).
 */
export async function traceOperation<T> (op: Operation, scope: TraceScope, fn: () => Promise<T>, failure: (result: T) => string | null): Promise<T> {
  const handle = startOperation(op, scope)
  if (handle === null) return await fn()
  let result: T
  try {
    result = await context.with(handle.context, fn)
  } catch (err) {
    endWithError(handle, err)
    throw err
  }
  handle.end(failure(result))
  return result
}

/** Records `mcp.server.session.duration` for a session that ended (`error.type` only when it ended abnormally). */
export function recordSessionDuration (seconds: number, protocolVersion: string, errorType: string | null): void {
  if (!telemetryEnabled() || sessionDuration === null) return
  const a: Attributes = { 'mcp.protocol.version': protocolVersion, 'network.transport': 'tcp', 'network.protocol.name': 'http' }
  if (errorType !== null) a['error.type'] = errorType
  sessionDuration.record(seconds, a)
}
