import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { McpToolError, type McpContext, type McpRegistry } from '@mcp-fastify/fastify-mcp'
import { type AuditLog, sha256Of } from '../domain/audit.js'
import type { CaseStore } from '../domain/cases.js'
import type { CountryRiskLists } from '../domain/countries.js'
import type { ScreeningIndex } from '../domain/matching.js'
import type { DatasetInfo } from '../domain/types.js'
import type { ToolMetrics } from '../telemetry/metrics.js'

/** What the tools work with; built once at start-up (see `services.ts`). */
export interface Services {
  screening: ScreeningIndex & { recordCount: () => number }
  datasets: DatasetInfo[]
  risk: CountryRiskLists
  cases: CaseStore
  audit: AuditLog
  auditFile: string
  /** Prometheus metrics, when METRICS_PORT is set. */
  metrics?: ToolMetrics | undefined
}

export const AuditSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  at: z.string(),
  // Absent values are omitted (not null): `["string","null"]` unions are not portable to clients with strict function-calling schemas.
  caller: z.object({ subject: z.string(), clientId: z.string().optional(), issuer: z.string().optional(), scopes: z.array(z.string()) }),
  inputSha256: z.string()
})
type Audit = z.infer<typeof AuditSchema>

export const DatasetSchema = z.object({ source: z.string(), file: z.string(), fileDate: z.string(), sha256: z.string(), records: z.number(), note: z.string().optional() })
export const EntryTypeSchema = z.enum(['individual', 'entity', 'vessel', 'aircraft'])
export const DateSchema = z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'a date as YYYY-MM-DD or a year YYYY')

export interface Definition<I extends z.ZodObject, O extends z.ZodObject> {
  name: string
  title: string
  description: string
  scope: string
  input: I
  output: O
  readOnly: boolean
  run: (args: z.infer<I>, ctx: McpContext) => Promise<z.infer<O>> | z.infer<O>
  /** A line for the text rendering. */
  summary: (out: z.infer<O>) => string
}

function render (summary: string, structured: Record<string, unknown>): string {
  return `${summary}\n\n${JSON.stringify(structured, null, 2)}`
}

/** Registers one tool definition on the registry. */
export type Define = <I extends z.ZodObject, O extends z.ZodObject>(d: Definition<I, O>) => void

/**
 * Makes the `define` used by every tool family: each tool is wrapped so that its result carries the
 * audit stamp of the verified caller and the same record is appended to the hash-chained audit log
 * before the answer leaves.
 */
export function definer (registry: McpRegistry, s: Services): Define {
  return function define<I extends z.ZodObject, O extends z.ZodObject> (d: Definition<I, O>): void {
    const output = d.output.extend({ audit: AuditSchema })
    registry.tool({
      name: d.name,
      title: d.title,
      description: d.description,
      input: d.input,
      output,
      scopes: [d.scope],
      annotations: { title: d.title, readOnlyHint: d.readOnly, destructiveHint: false, idempotentHint: d.readOnly, openWorldHint: false },
      handler: async (args, ctx) => {
        const m = s.metrics
        if (m === undefined) return await handle(args, ctx)
        const end = m.operationDuration.startTimer({ mcp_method_name: 'tools/call', gen_ai_tool_name: d.name, gen_ai_operation_name: 'execute_tool' })
        try {
          const result = await handle(args, ctx)
          m.toolCalls.inc({ tool: d.name, outcome: 'ok' })
          end()
          return result
        } catch (err) {
          m.toolCalls.inc({ tool: d.name, outcome: 'error' })
          m.toolRefusals.inc({ tool: d.name, reason: (err as { reason?: string }).reason ?? 'tool_error' })
          end({ error_type: 'tool_error' })
          throw err
        }
      }
    })

    async function handle (args: unknown, ctx: McpContext): Promise<{ structuredContent: Record<string, unknown>, content: Array<{ type: 'text', text: string }> }> {
      const caller = ctx.caller
      if (caller === null) throw Object.assign(new McpToolError('this service requires an authenticated caller'), { reason: 'unauthenticated' })
      const audit: Audit = {
        requestId: randomUUID(),
        tool: d.name,
        at: new Date().toISOString(),
        caller: {
          subject: caller.subject,
          ...(caller.clientId === null ? {} : { clientId: caller.clientId }),
          ...(caller.issuer === null ? {} : { issuer: caller.issuer }),
          scopes: caller.scopes
        },
        inputSha256: sha256Of(args)
      }
      let out: z.infer<O>
      try {
        out = await d.run(args as z.infer<I>, ctx)
      } catch (err) {
        await s.audit.append({ ...audit, outcome: 'error', error: (err as Error).message })
        throw err
      }
      const committing = s.metrics?.auditCommit.startTimer()
      try {
        await s.audit.append({ ...audit, outcome: 'ok', session: ctx.session?.id ?? null, protocolVersion: ctx.client.protocolVersion, jsonrpcId: ctx.requestId })
      } catch (err) {
        ctx.request?.log.error({ err }, 'audit log write failed; the call is not answered')
        throw Object.assign(new McpToolError('the audit log could not be written; the call was not completed'), { reason: 'audit_unavailable' })
      }
      committing?.()
      const hits = (out as { hits?: unknown }).hits
      if (s.metrics !== undefined && Array.isArray(hits)) for (const hit of hits as Array<{ source?: string }>) s.metrics.screeningHits.inc({ source: hit.source ?? 'unknown' })
      const structured = { ...out, audit } as Record<string, unknown>
      return { structuredContent: structured, content: [{ type: 'text', text: render(d.summary(out), structured) }] }
    }
  }
}
