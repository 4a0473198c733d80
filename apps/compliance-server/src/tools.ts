import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { McpToolError, type McpContext, type McpRegistry } from '@mcp-fastify/fastify-mcp'
import { type AuditLog, sha256Of } from './domain/audit.js'
import type { CaseStore } from './domain/cases.js'
import { resolveCountry, type CountryRiskLists } from './domain/countries.js'
import { validateIdentifier } from './domain/identifiers.js'
import { ALGORITHM, DEFAULT_THRESHOLD, type ScreeningIndex } from './domain/matching.js'
import { TRIAGE_METHOD, triageAlert } from './domain/triage.js'
import type { DatasetInfo } from './domain/types.js'

/** What the tools work with; built once at start-up (see `services.ts`). */
export interface Services {
  screening: ScreeningIndex & { recordCount: () => number }
  datasets: DatasetInfo[]
  risk: CountryRiskLists
  cases: CaseStore
  audit: AuditLog
  auditFile: string
}

const AuditSchema = z.object({
  requestId: z.string(),
  tool: z.string(),
  at: z.string(),
  caller: z.object({ subject: z.string(), clientId: z.string().nullable(), issuer: z.string().nullable(), scopes: z.array(z.string()) }),
  inputSha256: z.string()
})
type Audit = z.infer<typeof AuditSchema>

const DatasetSchema = z.object({ source: z.string(), file: z.string(), fileDate: z.string(), sha256: z.string(), records: z.number(), note: z.string().optional() })
const EntryTypeSchema = z.enum(['individual', 'entity', 'vessel', 'aircraft'])
const HitSchema = z.object({
  source: z.string(),
  id: z.string(),
  name: z.string(),
  matchedName: z.string(),
  matchedNameKind: z.string(),
  score: z.number(),
  type: EntryTypeSchema,
  programs: z.array(z.string()),
  countries: z.array(z.string()),
  remarks: z.string().optional()
})
const DateSchema = z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'a date as YYYY-MM-DD or a year YYYY')

interface Definition<I extends z.ZodObject, O extends z.ZodObject> {
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

/**
 * Registers every tool, each wrapped so that its result carries the audit stamp of the verified
 * caller and the same record is appended to the hash-chained audit log before the answer leaves.
 */
export function registerTools (registry: McpRegistry, s: Services): void {
  function define<I extends z.ZodObject, O extends z.ZodObject> (d: Definition<I, O>): void {
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

  define({
    name: 'screen_sanctions',
    title: 'Screen a name against sanctions lists',
    description: 'Screens a person, company, vessel or aircraft name (or an identifier such as an IMO number, BIC, LEI or crypto address) ' +
      'against the loaded sanctions lists (OFAC SDN, UN consolidated list). Matching tolerates transliteration, word order, punctuation, ' +
      `diacritics and legal-form suffixes. Returns candidate hits ranked by score (0..1, default threshold ${DEFAULT_THRESHOLD}); ` +
      'a hit is a candidate for review, not a determination: use triage_alert, then record_decision. Give birthDate and country when known to sharpen the ranking.',
    scope: 'sanctions:screen',
    input: z.object({
      name: z.string().min(1).max(300).describe('The name or identifier to screen'),
      type: EntryTypeSchema.optional().describe('Only entries of this type'),
      birthDate: DateSchema.optional().describe('Date of birth (individuals): YYYY-MM-DD or YYYY'),
      country: z.string().min(2).max(100).optional().describe('Country associated with the subject (ISO code or English name)'),
      threshold: z.number().min(0).max(1).optional().describe(`Minimum score, default ${DEFAULT_THRESHOLD}`),
      limit: z.number().int().min(1).max(100).optional().describe('Most hits returned, default 10')
    }),
    output: z.object({
      query: z.object({ name: z.string(), type: z.string().optional(), birthDate: z.string().optional(), country: z.string().optional() }),
      hits: z.array(HitSchema),
      algorithm: z.object({ name: z.string(), version: z.string(), threshold: z.number() }),
      datasets: z.array(DatasetSchema)
    }),
    readOnly: true,
    run: (a) => {
      const threshold = a.threshold ?? DEFAULT_THRESHOLD
      const hits = s.screening.screen({ name: a.name, type: a.type, birthDate: a.birthDate, country: a.country, threshold, limit: a.limit ?? 10 })
      const query: { name: string, type?: string, birthDate?: string, country?: string } = { name: a.name }
      if (a.type !== undefined) query.type = a.type
      if (a.birthDate !== undefined) query.birthDate = a.birthDate
      if (a.country !== undefined) query.country = a.country
      return { query, hits, algorithm: { name: ALGORITHM.name, version: ALGORITHM.version, threshold }, datasets: s.datasets }
    },
    summary: (o) => o.hits.length === 0
      ? `No hit for "${o.query.name}" at threshold ${o.algorithm.threshold}.`
      : `${o.hits.length} candidate hit(s) for "${o.query.name}"; best: ${o.hits[0]?.source} ${o.hits[0]?.id} ${o.hits[0]?.name} (score ${o.hits[0]?.score}).`
  })

  define({
    name: 'get_sanctions_entry',
    title: 'Read a sanctions list entry',
    description: 'Returns the complete entry of a sanctions list by its source (OFAC-SDN or UN) and the list\'s own id (OFAC ent_num, UN reference number): ' +
      'names and aliases, type, programs, countries, dates of birth, identifiers and remarks.',
    scope: 'sanctions:read',
    input: z.object({ source: z.enum(['OFAC-SDN', 'UN']), id: z.string().min(1).max(40) }),
    output: z.object({
      entry: z.object({
        source: z.string(),
        id: z.string(),
        name: z.string(),
        type: EntryTypeSchema,
        programs: z.array(z.string()),
        countries: z.array(z.string()),
        birthDates: z.array(z.string()),
        aliases: z.array(z.object({ name: z.string(), kind: z.string() })),
        identifiers: z.array(z.object({ kind: z.string(), value: z.string() })),
        remarks: z.string().optional()
      }),
      dataset: DatasetSchema
    }),
    readOnly: true,
    run: (a) => {
      const entry = s.screening.getEntry(a.source, a.id)
      if (entry === undefined) throw new McpToolError(`no ${a.source} entry with id "${a.id}" in the loaded lists`)
      return { entry, dataset: s.datasets.find((d) => d.source === a.source) as DatasetInfo }
    },
    summary: (o) => `${o.entry.source} ${o.entry.id}: ${o.entry.name} (${o.entry.type}; ${o.entry.programs.join(', ')}).`
  })

  define({
    name: 'list_sources',
    title: 'List the loaded sanctions lists and risk lists',
    description: 'Names every loaded list with its file date, SHA-256 and record count, the matching algorithm and its default threshold, and the dates of the FATF and EU country lists.',
    scope: 'sanctions:read',
    input: z.object({}),
    output: z.object({
      datasets: z.array(DatasetSchema),
      algorithm: z.object({ name: z.string(), version: z.string(), description: z.string(), defaultThreshold: z.number() }),
      countryLists: z.object({ fatf: z.string(), eu: z.string() })
    }),
    readOnly: true,
    run: () => ({ datasets: s.datasets, algorithm: { ...ALGORITHM, defaultThreshold: DEFAULT_THRESHOLD }, countryLists: s.risk.asOf }),
    summary: (o) => `${o.datasets.map((d) => `${d.source} (${d.records} records, ${d.fileDate})`).join('; ')}.`
  })

  define({
    name: 'country_risk',
    title: 'Jurisdiction risk of a country',
    description: 'Tells whether a country is on the FATF "call for action" or "increased monitoring" lists or on the EU list of high-risk third countries. ' +
      'Accepts ISO alpha-2, alpha-3, or an English name as the lists spell it ("Korea, North", "Burma", "Iran (Islamic Republic of)"). ' +
      'Every answer carries the lists\' as-of dates and sources: these lists change at every FATF plenary.',
    scope: 'risk:read',
    input: z.object({ country: z.string().min(2).max(100) }),
    output: z.object({
      country: z.object({ alpha2: z.string(), alpha3: z.string(), name: z.string() }),
      riskLevel: z.enum(['high', 'elevated', 'standard']),
      lists: z.array(z.object({ list: z.string(), status: z.string(), measure: z.string().optional(), source: z.string(), asOf: z.string() })),
      asOf: z.object({ fatf: z.string(), eu: z.string() }),
      sources: z.array(z.string())
    }),
    readOnly: true,
    run: (a) => {
      const country = resolveCountry(a.country)
      if (country === null) throw new McpToolError(`unknown country "${a.country}": give an ISO 3166 alpha-2 or alpha-3 code or an English name`)
      return s.risk.assess(country)
    },
    summary: (o) => `${o.country.name} (${o.country.alpha2}): ${o.riskLevel} risk${o.lists.length > 0 ? ` — ${o.lists.map((l) => `${l.list} ${l.status}`).join(', ')}` : ''} (FATF as of ${o.asOf.fatf}, EU as of ${o.asOf.eu}).`
  })

  define({
    name: 'validate_identifier',
    title: 'Validate an IBAN, BIC or LEI',
    description: 'Checks the format and check digits of an IBAN (ISO 13616), a BIC (ISO 9362) or an LEI (ISO 17442) and returns the normalized form, the reasons when invalid, and its parts.',
    scope: 'identifiers:validate',
    input: z.object({ kind: z.enum(['iban', 'bic', 'lei']), value: z.string().min(1).max(64) }),
    output: z.object({ kind: z.string(), value: z.string(), normalized: z.string(), valid: z.boolean(), reasons: z.array(z.string()), details: z.record(z.string(), z.string()).optional() }),
    readOnly: true,
    run: (a) => validateIdentifier(a.kind, a.value),
    summary: (o) => `${o.kind.toUpperCase()} ${o.normalized} is ${o.valid ? 'valid' : `invalid: ${o.reasons.join('; ')}`}.`
  })

  define({
    name: 'triage_alert',
    title: 'Triage a screening hit',
    description: 'Weighs a screening hit against what is known of the subject, following OFAC\'s published steps for judging a potential match ' +
      '(list, extent of the name match, entry type, date of birth, country, identifiers). Returns a suggestion — probable_false_positive, investigate or escalate — ' +
      'with reasons and the step-by-step comparison. It never decides: record the analyst\'s decision with record_decision.',
    scope: 'alerts:triage',
    input: z.object({
      hit: z.object({ source: z.string(), id: z.string(), matchedName: z.string(), score: z.number().min(0).max(1) }),
      subject: z.object({
        name: z.string().min(1).max(300),
        type: EntryTypeSchema.optional(),
        birthDate: DateSchema.optional(),
        country: z.string().min(2).max(100).optional(),
        identifiers: z.array(z.string().max(100)).max(20).optional()
      })
    }),
    output: z.object({
      suggestion: z.enum(['probable_false_positive', 'investigate', 'escalate']),
      reasons: z.array(z.string()),
      steps: z.array(z.object({ step: z.string(), outcome: z.string(), note: z.string() })),
      method: z.object({ source: z.string() }),
      final: z.literal(false)
    }),
    readOnly: true,
    run: (a) => ({ ...triageAlert(a.hit, s.screening.getEntry(a.hit.source, a.hit.id), a.subject), method: { source: TRIAGE_METHOD.source }, final: false as const }),
    summary: (o) => `Suggestion: ${o.suggestion} (${o.reasons.join('; ')}). Not a decision.`
  })

  define({
    name: 'record_decision',
    title: 'Record the decision on an alert',
    description: 'Records an analyst\'s decision on a screening alert — confirmed_hit, false_positive or escalated — with a note. The decision is stored with the verified caller as decidedBy and is append-only.',
    scope: 'alerts:decide',
    input: z.object({
      alertId: z.string().min(1).max(100),
      decision: z.enum(['confirmed_hit', 'false_positive', 'escalated']),
      note: z.string().min(1).max(4000)
    }),
    output: z.object({ decision: z.object({ decisionId: z.string(), alertId: z.string(), decision: z.string(), note: z.string(), decidedBy: z.string(), decidedAt: z.string() }) }),
    readOnly: false,
    run: async (a, ctx) => ({ decision: await s.cases.recordDecision({ alertId: a.alertId, decision: a.decision, note: a.note, decidedBy: ctx.caller?.subject ?? 'unknown' }) }),
    summary: (o) => `Decision ${o.decision.decision} recorded on alert ${o.decision.alertId} by ${o.decision.decidedBy}.`
  })

  define({
    name: 'add_case_note',
    title: 'Add a note to a case',
    description: 'Appends a note to a case (a case id is the alert id its decisions use). Notes are append-only and carry the verified caller as author.',
    scope: 'cases:write',
    input: z.object({ caseId: z.string().min(1).max(100), note: z.string().min(1).max(4000) }),
    output: z.object({ note: z.object({ noteId: z.string(), caseId: z.string(), note: z.string(), author: z.string(), createdAt: z.string() }) }),
    readOnly: false,
    run: async (a, ctx) => ({ note: await s.cases.addNote({ caseId: a.caseId, note: a.note, author: ctx.caller?.subject ?? 'unknown' }) }),
    summary: (o) => `Note added to case ${o.note.caseId} by ${o.note.author}.`
  })

  define({
    name: 'get_case',
    title: 'Read a case',
    description: 'Returns the decisions and notes recorded on a case, oldest first.',
    scope: 'cases:read',
    input: z.object({ caseId: z.string().min(1).max(100) }),
    output: z.object({
      case: z.object({
        caseId: z.string(),
        decisions: z.array(z.object({ decisionId: z.string(), alertId: z.string(), decision: z.string(), note: z.string(), decidedBy: z.string(), decidedAt: z.string() })),
        notes: z.array(z.object({ noteId: z.string(), caseId: z.string(), note: z.string(), author: z.string(), createdAt: z.string() }))
      })
    }),
    readOnly: true,
    run: async (a) => {
      const found = await s.cases.get(a.caseId)
      if (found === null) throw new McpToolError(`no case "${a.caseId}"`)
      return { case: found }
    },
    summary: (o) => `Case ${o.case.caseId}: ${o.case.decisions.length} decision(s), ${o.case.notes.length} note(s).`
  })
}
