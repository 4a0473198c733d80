import { createHash } from 'node:crypto'
import {
  context, createNoopMeter, metrics, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Attributes, type Context, type Histogram, type Link, type TextMapGetter, type Tracer
} from '@opentelemetry/api'
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
  const delegate = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate?.() ?? trace.getTracerProvider()
  if (delegate !== cachedTracerDelegate) {
    cachedTracerDelegate = delegate
    tracer = delegate === NOOP_TRACER_PROVIDER ? null : trace.getTracer(SCOPE)
  }
  const meterProvider = metrics.getMeterProvider()
  if (meterProvider !== cachedMeterProvider) {
    cachedMeterProvider = meterProvider
    const meter = meterProvider.getMeter(SCOPE)
    duration = meter instanceof NOOP_METER
      ? null
      : meter.createHistogram('mcp.server.operation.duration', {
        unit: 's',
        description: 'MCP request duration as observed on the receiver from the time it was received until the result or ack is sent.',
        advice: { explicitBucketBoundaries: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300] }
      })
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

/**
 * Runs `fn` inside a SERVER span `{mcp.method.name} {target}` whose parent is the trace context of
 * `params._meta` (as the conventions recommend), else of the HTTP request's headers; when `_meta`
 * carries one, the HTTP context is linked. Records `mcp.server.operation.duration`.
 * `failure` maps a result to an `error.type` (e.g. `tool_error` for `isError`).
 */
export async function traceOperation<T> (op: Operation, ctx: McpContext, fn: () => Promise<T>, failure: (result: T) => string | null): Promise<T> {
  const start = performance.now()
  const headers = ctx.request?.headers
  const httpContext = headers === undefined ? context.active() : propagation.extract(context.active(), headers, headerGetter)
  const meta = ctx.meta
  const metaContext: Context | null = meta !== undefined && typeof meta.traceparent === 'string' ? propagation.extract(ROOT_CONTEXT, meta, metaGetter) : null
  const links: Link[] = []
  const httpSpan = trace.getSpanContext(httpContext)
  if (metaContext !== null && httpSpan !== undefined) links.push({ context: httpSpan })
  const attributes: Attributes = {
    'mcp.method.name': op.method,
    'mcp.protocol.version': ctx.client.protocolVersion,
    'network.transport': ctx.request === null ? 'pipe' : 'tcp',
    ...(ctx.request === null ? {} : { 'network.protocol.name': 'http' }),
    ...(ctx.requestId === null || ctx.requestId === undefined ? {} : { 'jsonrpc.request.id': String(ctx.requestId) }),
    ...(ctx.session === null ? {} : { 'mcp.session.id': hashSessionId(ctx.session.id) }),
    ...(op.toolName === undefined ? {} : { 'gen_ai.tool.name': op.toolName, 'gen_ai.operation.name': 'execute_tool' }),
    ...(op.promptName === undefined ? {} : { 'gen_ai.prompt.name': op.promptName }),
    ...(op.resourceUri === undefined ? {} : { 'mcp.resource.uri': op.resourceUri })
  }
  const record = (errorType: string | null, message?: string, code?: number): void => {
    if (duration !== null) {
      const a: Attributes = {
        'mcp.method.name': op.method,
        'mcp.protocol.version': ctx.client.protocolVersion,
        'network.transport': attributes['network.transport'] as string
      }
      if (op.toolName !== undefined) { a['gen_ai.tool.name'] = op.toolName; a['gen_ai.operation.name'] = 'execute_tool' }
      if (op.promptName !== undefined) a['gen_ai.prompt.name'] = op.promptName
      if (errorType !== null) a['error.type'] = errorType
      duration.record((performance.now() - start) / 1000, a)
    }
    if (span !== null) {
      if (errorType !== null) {
        span.setAttribute('error.type', errorType)
        if (code !== undefined) span.setAttribute('rpc.response.status_code', String(code))
        span.setStatus({ code: SpanStatusCode.ERROR, ...(message === undefined ? {} : { message }) })
      }
      span.end()
    }
  }
  const span = tracer === null
    ? null
    : tracer.startSpan(op.target === undefined ? op.method : `${op.method} ${op.target}`, { kind: SpanKind.SERVER, attributes, links }, metaContext ?? httpContext)
  const run = span === null ? fn : async () => await context.with(trace.setSpan(metaContext ?? httpContext, span), fn)
  let result: T
  try {
    result = await run()
  } catch (err) {
    const code = (err as { code?: unknown }).code
    const rpc = typeof code === 'number' ? code : undefined
    record(rpc === undefined ? ((err as Error)?.name ?? '_OTHER') : String(rpc), (err as Error)?.message, rpc)
    throw err
  }
  record(failure(result))
  return result
}
