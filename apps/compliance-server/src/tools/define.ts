import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { McpToolError, type McpContext, type McpRegistry } from '@mcp-fastify/fastify-mcp'
import { type AuditLog, sha256Of } from '../domain/audit.js'
import type { CaseStore } from '../domain/cases.js'
import type { CountryRiskLists } from '../domain/countries.js'
import type { ScreeningIndex } from '../screening/index.js'
import type { DatasetInfo } from '../domain/types.js'

/** What the tools work with; built once at start-up (see `services.ts`). */
export interface Services {
  screening: ScreeningIndex & { recordCount: () => number }
  datasets: DatasetInfo[]
  risk: CountryRiskLists
  cases: CaseStore
  audit: AuditLog
  auditFile: string
}

export const AuditSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  at: z.string(),
  caller: z.object({ subject: z.string(), clientId: z.string().nullable(), issuer: z.string().nullable(), scopes: z.array(z.string()) }),
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
        const caller = ctx.caller
        if (caller === null) throw new McpToolError('this service requires an authenticated caller')
        const audit: Audit = {
          requestId: randomUUID(),
          tool: d.name,
          at: new Date().toISOString(),
          caller: { subject: caller.subject, clientId: caller.clientId, issuer: caller.issuer, scopes: caller.scopes },
          inputSha256: sha256Of(args)
        }
        let out: z.infer<O>
        try {
          out = await d.run(args as z.infer<I>, ctx)
        } catch (err) {
          await s.audit.append({ ...audit, outcome: 'error', error: (err as Error).message })
          throw err
        }
        try {
          await s.audit.append({ ...audit, outcome: 'ok', session: ctx.session?.id ?? null, protocolVersion: ctx.client.protocolVersion, jsonrpcId: ctx.requestId })
        } catch (err) {
          ctx.request?.log.error({ err }, 'audit log write failed; the call is not answered')
          throw new McpToolError('the audit log could not be written; the call was not completed')
        }
        const structured = { ...out, audit } as Record<string, unknown>
        return { structuredContent: structured, content: [{ type: 'text', text: render(d.summary(out), structured) }] }
      }
    })
  }
}
