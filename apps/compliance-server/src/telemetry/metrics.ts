import Fastify, { type FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { McpDecorator, McpRefusal } from '@mcp-fastify/fastify-mcp'
import type { DatasetInfo } from '../domain/types.js'

/** Seconds; the OpenTelemetry MCP conventions' buckets for `mcp.server.*.duration`. */
const OPERATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
const SESSION_BUCKETS = [1, 10, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400]

/** What the tool wrapper records (see `tools/define.ts`). */
export interface ToolMetrics {
  operationDuration: Histogram<'mcp_method_name' | 'gen_ai_tool_name' | 'gen_ai_operation_name' | 'error_type'>
  toolCalls: Counter<'tool' | 'outcome'>
  toolRefusals: Counter<'tool' | 'reason'>
  screeningHits: Counter<'source'>
  auditCommit: Histogram
}

export interface ServiceMetrics extends ToolMetrics {
  registry: Registry
  /** Counts a request the plugin refused (its `onRefusal` hook). */
  observeRefusal: (refusal: McpRefusal) => void
  /** Session and stream gauges and `mcp.server.session.duration`, from the plugin's session events. */
  observeSessions: (mcp: McpDecorator) => void
  /** Audit batch sizes and alerts opened, from the records store. */
  observeRecords: (records: RecordsCounts) => void
}

/** What the metrics read of the records store. */
export interface RecordsCounts {
  stats: { alertsOpened: number }
  onCommit: (listener: (records: number) => void) => () => void
}

/** The service's Prometheus registry: MCP metrics (OTel names, Prometheus spelling), tool counters, gauges. */
export function createMetrics (datasets: () => DatasetInfo[]): ServiceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  let mcp: McpDecorator | null = null
  const sessionDuration = new Histogram({
    name: 'mcp_server_session_duration_seconds', help: 'mcp.server.session.duration: how long MCP sessions lasted, by close reason', labelNames: ['reason'], buckets: SESSION_BUCKETS, registers
  })
  new Gauge({
    name: 'mcp_sessions', help: 'Open MCP sessions in the session store (every instance when the store is shared)', registers,
    async collect () { if (mcp !== null) this.set(await mcp.sessions.count()) }
  })
  new Gauge({
    name: 'mcp_sse_streams', help: 'SSE streams open on this instance: kind="get" (2025 GET and resumed streams), kind="listen" (2026-07-28 subscriptions/listen)', labelNames: ['kind'], registers,
    collect () {
      if (mcp === null) return
      const n = mcp.sessions.streamCount()
      this.set({ kind: 'get' }, n.get)
      this.set({ kind: 'listen' }, n.listen)
    }
  })
  const refusals = new Counter({
    name: 'mcp_refusals_total', help: 'Requests the MCP endpoint refused before any tool ran (each also audited), by reason (unauthenticated, invalid_token, insufficient_scope, rate_limited, ...)', labelNames: ['reason'], registers
  })
  new Gauge({
    name: 'mcp_live_sessions', help: 'MCP session servers live on this instance', registers,
    collect () { if (mcp !== null) this.set(mcp.sessions.liveCount()) }
  })
  new Gauge({
    name: 'compliance_list_age_seconds', help: 'Age of each loaded sanctions list (now minus its publication date, else the time it was fetched)', labelNames: ['source'], registers,
    collect () {
      this.reset()
      for (const d of datasets()) {
        const at = Date.parse(d.publishedAt ?? d.fetchedAt)
        if (!Number.isNaN(at)) this.set({ source: d.source }, Math.max(0, (Date.now() - at) / 1000))
      }
    }
  })
  let records: RecordsCounts | null = null
  new Counter({
    name: 'compliance_alerts_opened_total', help: 'Alerts opened by this instance (screenings with a hit, and re-screenings after a list change)', registers,
    collect () { if (records !== null) { this.reset(); this.inc(records.stats.alertsOpened) } }
  })
  const batchSize = new Histogram({
    name: 'compliance_audit_batch_records', help: 'Audit records per commit (group commit) on this instance', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 512], registers
  })
  return {
    registry,
    observeRecords (r) {
      records = r
      r.onCommit((n) => { batchSize.observe(n) })
    },
    operationDuration: new Histogram({
      name: 'mcp_server_operation_duration_seconds',
      help: 'mcp.server.operation.duration: tools/call handling time, from the tool wrapper (scope and schema refusals in the plugin are not seen here)',
      labelNames: ['mcp_method_name', 'gen_ai_tool_name', 'gen_ai_operation_name', 'error_type'],
      buckets: OPERATION_BUCKETS,
      registers
    }),
    toolCalls: new Counter({ name: 'compliance_tool_calls_total', help: 'Tool calls that reached the tool, by outcome (ok, error)', labelNames: ['tool', 'outcome'], registers }),
    toolRefusals: new Counter({ name: 'compliance_tool_refusals_total', help: 'Tool calls refused by the service, by reason (unauthenticated, tool_error, audit_unavailable)', labelNames: ['tool', 'reason'], registers }),
    screeningHits: new Counter({ name: 'compliance_screening_hits_total', help: 'Candidate hits returned by screen_sanctions, by list', labelNames: ['source'], registers }),
    auditCommit: new Histogram({ name: 'compliance_audit_commit_duration_seconds', help: 'Time for an audit record to be appended durably', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    observeRefusal (refusal) { refusals.inc({ reason: refusal.reason }) },
    observeSessions (decorator) {
      mcp = decorator
      // Observed by the instance that ended the session, whichever created it (the event carries createdAt).
      decorator.events.on('session:closed', ({ reason, createdAt }) => {
        if (createdAt !== undefined) sessionDuration.observe({ reason }, (Date.now() - createdAt) / 1000)
      })
    }
  }
}

/** `/metrics` on its own listener (METRICS_PORT), never on the MCP port. */
export async function startMetricsServer (metrics: ServiceMetrics, host: string, port: number): Promise<FastifyInstance> {
  const server = Fastify({ logger: false })
  server.get('/metrics', async (_request, reply) => {
    return await reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
  await server.listen({ host, port })
  return server
}
