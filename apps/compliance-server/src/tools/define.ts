import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { McpToolError, type McpContext, type McpRegistry } from '@mcp-fastify/fastify-mcp'
import { createHash } from 'node:crypto'
import { canonical, withoutSecrets } from '../records/chain.js'
import type { RecordsStore } from '../records/store.js'
import { RecordsError } from '../records/types.js'
import type { CountryRiskLists } from '../domain/countries.js'
import type { ScreeningIndex } from '../screening/index.js'
import type { DatasetInfo } from '../domain/types.js'
import type { ListManager } from '../lists/index.js'
import type { ToolMetrics } from '../telemetry/metrics.js'

/** What the tools work with; built once at start-up (see `services.ts`). */
export interface Services {
  screening: ScreeningIndex & { recordCount: () => number }
  datasets: DatasetInfo[]
  /** The refreshing lists: take `lists.current()` once per call so that a call never mixes versions. */
  lists: ListManager<ScreeningIndex & { recordCount: () => number }>
  risk: CountryRiskLists
  /** Alerts, decisions, notes and the audit chain (PostgreSQL or the embedded engine). */
  records: RecordsStore
  /** Calls `listener` after the loaded lists (`datasets`) changed; returns the function that removes it. */
  onSourcesChanged?: (listener: () => void) => () => void
  /** Prometheus metrics, when METRICS_PORT is set. */
  metrics?: ToolMetrics | undefined
}

export const AuditSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  at: z.string(),
  // Absent values are omitted (not null): `["string","null"]` unions are not portable to clients with strict function-calling schemas.
  caller: z.object({ subject: z.string(), clientId: z.string().optional(), issuer: z.string().optional(), scopes: z.array(z.string()) }),
  inputSha256: z.string(),
  /** The position of this call's record in the audit chain, committed before the answer. */
  seq: z.number().optional()
})
export type Audit = z.infer<typeof AuditSchema>

export const DatasetSchema = z.object({
  sourceId: z.string(),
  source: z.string(),
  format: z.string(),
  file: z.string(),
  publishedAt: z.string().optional().describe('The date the list states; absent when the file carries none (OFAC CSV)'),
  fileDate: z.string().optional(),
  fetchedAt: z.string(),
  sha256: z.string(),
  records: z.number(),
  note: z.string().optional()
})
/** Set on every screening answer while a list is past `SANCTIONS_MAX_AGE`. */
export const WarningSchema = z.object({ code: z.literal('stale'), sourceId: z.string(), ageSeconds: z.number(), message: z.string() })

/** The version a call works on, and the stale warnings that go with it. */
export function listsNow (s: Services): { version: ReturnType<Services['lists']['current']>, warnings: Array<z.infer<typeof WarningSchema>> } {
  const version = s.lists.current()
  const warnings = s.lists.staleSources().map((x) => ({
    code: 'stale' as const,
    sourceId: x.id,
    ageSeconds: x.ageSeconds,
    message: `list ${x.id} was last checked successfully ${Math.round(x.ageSeconds / 3600)} h ago (beyond SANCTIONS_MAX_AGE): designations since then are missing`
  }))
  return { version, warnings }
}
export const EntryTypeSchema = z.enum(['individual', 'entity', 'vessel', 'aircraft'])
export const DateSchema = z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'a date as YYYY-MM-DD or a year YYYY')

/**
 * What a tool's `run` may return: its output, where any optional field may also be `null` (records and
 * list metadata keep "unknown" as null). The boundary drops those nulls, so clients see the field absent:
 * output schemas have optional fields, never `["string","null"]` unions.
 */
export type Nullable<T> = T extends Array<infer U>
  ? Array<Nullable<U>>
  : T extends Record<string, unknown>
    ? { [K in keyof T]: undefined extends T[K] ? Nullable<Exclude<T[K], undefined>> | null | undefined : Nullable<T[K]> }
    : T

/** `v` with every null-valued object property left out, at any depth (array items are kept as they are, nulls included). */
export function withoutNulls<T> (v: Nullable<T> | T): T {
  if (Array.isArray(v)) return v.map((x: unknown) => withoutNulls(x)) as T
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v as T
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x)
  return out as T
}

export interface Definition<I extends z.ZodObject, O extends z.ZodObject> {
  name: string
  title: string
  description: string
  scope: string
  input: I
  output: O
  readOnly: boolean
  run: (args: z.infer<I>, ctx: McpContext, audit: Audit) => Promise<Nullable<z.infer<O>>> | Nullable<z.infer<O>>
  /** What the call changed, kept in its audit record (alert opened, decision proposed, state reached). */
  effects?: (out: z.infer<O>) => Record<string, unknown>
  /** A line for the text rendering. */
  summary: (out: z.infer<O>) => string
}

function render (summary: string, structured: Record<string, unknown>): string {
  return `${summary}\n\n${JSON.stringify(structured, null, 2)}`
}

/** SHA-256 of the canonical JSON of a call's input, credentials removed: the `inputSha256` of every audit stamp. */
export function sha256Of (value: unknown): string {
  return createHash('sha256').update(canonical(withoutSecrets(JSON.parse(JSON.stringify(value ?? null))))).digest('hex')
}

/** Registers one tool definition on the registry. */
export type Define = <I extends z.ZodObject, O extends z.ZodObject>(d: Definition<I, O>) => void

/**
 * Makes the `define` used by every tool family: each tool is wrapped so that its result carries the
 * audit stamp of the verified caller and the same record (with the input and the outcome) is committed
 * to the audit chain of the records store before the answer leaves.
 */
export function definer (registry: McpRegistry, s: Services): Define {
  async function appendOrFail (record: Record<string, unknown>, ctx: McpContext): Promise<{ seq: number }> {
    try {
      return await s.records.append(record)
    } catch (err) {
      ctx.request?.log.error({ err }, 'audit record write failed; the call is not answered')
      throw Object.assign(new McpToolError('the audit record could not be written (records store unavailable); the call was not completed, retry later'), { reason: 'audit_unavailable' })
    }
  }
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
      const context = { session: ctx.session?.id ?? null, protocolVersion: ctx.client.protocolVersion, jsonrpcId: ctx.requestId }
      let out: z.infer<O>
      try {
        out = withoutNulls<z.infer<O>>(await d.run(args as z.infer<I>, ctx, audit))
      } catch (err) {
        await appendOrFail({ ...audit, ...context, input: args, outcome: 'error', error: (err as Error).message }, ctx)
        if (err instanceof RecordsError) throw new McpToolError(err.message)
        throw err
      }
      const committing = s.metrics?.auditCommit.startTimer()
      const line = await appendOrFail({ ...audit, ...context, input: args, outcome: 'ok', ...(d.effects === undefined ? {} : { effects: d.effects(out) }) }, ctx)
      committing?.()
      audit.seq = line.seq
      const hits = (out as { hits?: unknown }).hits
      if (s.metrics !== undefined && Array.isArray(hits)) for (const hit of hits as Array<{ source?: string }>) s.metrics.screeningHits.inc({ source: hit.source ?? 'unknown' })
      const structured = { ...out, audit } as Record<string, unknown>
      return { structuredContent: structured, content: [{ type: 'text', text: render(d.summary(out), structured) }] }
    }
  }
}
