import type { CallerInfo } from '../records/types.js'
import { z } from 'zod'
import { McpToolError } from '@mcp-fastify/fastify-mcp'
import { screeningAlert } from '../alerts.js'
import { ALGORITHM, DEFAULT_THRESHOLD, explainLine, ScreeningIndex, type ScreenQuery, type ScreeningHit } from '../screening/index.js'
import type { DatasetInfo } from '../domain/types.js'
import { DatasetSchema, DateSchema, EntryTypeSchema, listsNow, WarningSchema, type Define, type Services } from './define.js'

const TokenPairSchema = z.object({
  query: z.string(),
  listed: z.string().optional().describe('Absent when the query token paired with no listed token'),
  similarity: z.number(),
  phonetic: z.number(),
  initial: z.boolean(),
  weight: z.number(),
  credit: z.number()
})

export const ExplanationSchema = z.object({
  matchedName: z.string(),
  matchedNameKind: z.string(),
  tokens: z.array(TokenPairSchema).describe('One per query token: the listed token it paired with, similarity, weight and credit (similarity when ≥ 0.8, else 0)'),
  unmatchedListedTokens: z.array(z.string()),
  tokenScore: z.number().describe('Σ credit·weight / Σ weight'),
  factors: z.array(z.object({ reason: z.string(), factor: z.number() })).describe('Multiplied into tokenScore to give nameScore'),
  nameScore: z.number(),
  adjustments: z.array(z.object({ reason: z.string(), delta: z.number(), detail: z.string() })).describe('Added to nameScore'),
  score: z.number().describe('clamp(nameScore + Σ delta, 0, 1), rounded to 3 decimals')
})

export const HitSchema = z.object({
  source: z.string(),
  id: z.string(),
  name: z.string(),
  matchedName: z.string(),
  matchedNameKind: z.string(),
  score: z.number(),
  type: EntryTypeSchema,
  programs: z.array(z.string()),
  countries: z.array(z.string()),
  remarks: z.string().optional(),
  explanation: ExplanationSchema
})

/** The subject fields shared by `screen_sanctions` and each subject of `screen_batch`. */
export const SubjectFields = {
  name: z.string().min(1).max(300).describe('The name or identifier to screen'),
  type: EntryTypeSchema.optional().describe('The subject\'s type: entries of another type are scored 0.25 lower'),
  birthDate: DateSchema.optional().describe('Date of birth (individuals): YYYY-MM-DD or YYYY'),
  country: z.string().min(2).max(100).optional().describe('Any country linked to the subject (ISO code or English name), compared with every country link of the entry'),
  nationality: z.string().min(2).max(100).optional().describe('Nationality of the subject, compared with the entry\'s nationalities (its country links when the list does not tell them apart)'),
  identifiers: z.array(z.object({ kind: z.string().min(2).max(40), value: z.string().min(3).max(120) })).max(20).optional()
    .describe('Documents and registrations: kind passport, national_id, imo, mmsi, bic, lei or crypto; a match is decisive'),
  programs: z.array(z.string().min(1).max(40)).max(50).optional().describe('Only entries under one of these programs'),
  sources: z.array(z.string().min(1).max(40)).max(20).optional().describe('Only entries of these lists (OFAC-SDN, UN, …)'),
  includeWeakAliases: z.boolean().optional().describe('Also screen weak aliases (default false: OFAC FAQ 124, weak AKAs confirm, they do not screen)')
}

const _subject = z.object(SubjectFields)
type Subject = z.infer<typeof _subject>

const QuerySchema = z.object({
  name: z.string(),
  type: z.string().optional(),
  birthDate: z.string().optional(),
  country: z.string().optional(),
  nationality: z.string().optional(),
  identifiers: z.array(z.object({ kind: z.string(), value: z.string() })).optional(),
  programs: z.array(z.string()).optional(),
  sources: z.array(z.string()).optional(),
  includeWeakAliases: z.boolean().optional()
})

const WeakAliasPolicySchema = z.enum(['excluded', 'included']).describe('Whether weak aliases were screened')

function echo (a: Subject): z.infer<typeof QuerySchema> {
  const q: z.infer<typeof QuerySchema> = { name: a.name }
  for (const k of ['type', 'birthDate', 'country', 'nationality', 'identifiers', 'programs', 'sources', 'includeWeakAliases'] as const) {
    if (a[k] !== undefined) (q as Record<string, unknown>)[k] = a[k]
  }
  return q
}

function screenQuery (a: Subject, threshold: number, limit: number): ScreenQuery {
  return { ...a, threshold, limit }
}

const hitLines = (hits: ScreeningHit[]): string => hits.map((h) => `\n- ${explainLine(h)}`).join('')

function callerInfo (audit: { caller: { subject: string, clientId?: string, issuer?: string, scopes: string[] } }): CallerInfo {
  const c = audit.caller
  return { subject: c.subject, clientId: c.clientId ?? null, issuer: c.issuer ?? null, scopes: c.scopes }
}

/** Registers the screening tools. */
export function registerScreeningTools (define: Define, s: Services): void {
  define({
    name: 'screen_sanctions',
    title: 'Screen a name against sanctions lists',
    description: 'Screens a person, company, vessel or aircraft name (or an identifier such as an IMO number, BIC, LEI, passport or crypto address) ' +
      'against the loaded sanctions lists (OFAC SDN, UN consolidated list). Matching tolerates transliteration, word order, punctuation, ' +
      `diacritics, initials and legal-form suffixes. Returns every entry scoring at or above the threshold (0..1, default ${DEFAULT_THRESHOLD}), ranked, ` +
      'each with an explanation from which its score can be recomputed; a hit is a candidate for review, not a determination: use triage_alert, then record_decision. ' +
      'Give birthDate, nationality, country and identifiers when known to sharpen the ranking.',
    scope: 'sanctions:screen',
    input: z.object({
      ...SubjectFields,
      threshold: z.number().min(0).max(1).optional().describe(`Minimum score, default ${DEFAULT_THRESHOLD}`),
      limit: z.number().int().min(1).max(100).optional().describe('Most hits returned, default 10')
    }),
    output: z.object({
      query: QuerySchema,
      hits: z.array(HitSchema),
      weakAliasPolicy: WeakAliasPolicySchema,
      algorithm: z.object({ name: z.string(), version: z.string(), threshold: z.number() }),
      datasets: z.array(DatasetSchema),
      alertId: z.string().optional().describe('The alert opened for this answer when it has at least one hit'),
      listVersion: z.string(),
      warnings: z.array(WarningSchema)
    }),
    readOnly: false,
    run: async (a, _ctx, audit) => {
      const { version, warnings } = listsNow(s)
      const threshold = a.threshold ?? DEFAULT_THRESHOLD
      const { threshold: _t, limit: _l, ...subject } = a
      const limit = a.limit ?? 10
      const hits = version.index.screen(screenQuery(subject, threshold, limit))
      const query = echo(subject)
      const algorithm = { name: ALGORITHM.name, version: ALGORITHM.version, threshold }
      const answer = { query, hits, weakAliasPolicy: ScreeningIndex.weakAliasPolicy(a), algorithm, datasets: version.datasets, listVersion: version.id, warnings }
      if (hits.length === 0) return answer
      const alertId = await s.records.openAlert(screeningAlert({ tool: 'screen_sanctions', requestId: audit.requestId, subject: query, query, threshold, limit, hits, version, caller: callerInfo(audit) }))
      return { ...answer, alertId }
    },
    effects: (o) => (o.alertId === undefined ? {} : { alertId: o.alertId, alertState: 'open' }),
    summary: (o) => o.hits.length === 0
      ? `No hit for "${o.query.name}" at threshold ${o.algorithm.threshold} (weak aliases ${o.weakAliasPolicy}).`
      : `${o.hits.length} candidate hit(s) for "${o.query.name}" at threshold ${o.algorithm.threshold} (weak aliases ${o.weakAliasPolicy}); best: ${o.hits[0]?.source} ${o.hits[0]?.id} ${o.hits[0]?.name} (score ${o.hits[0]?.score}).${hitLines(o.hits as ScreeningHit[])}`
  })

  define({
    name: 'screen_batch',
    title: 'Screen up to 1,000 subjects against sanctions lists',
    description: 'Screens a list of subjects (each with the fields of screen_sanctions and an optional ref) and answers per subject, in input order, ' +
      'with the same hits and explanations. Sends progress notifications when the request carries a progress token.',
    scope: 'sanctions:screen',
    input: z.object({
      subjects: z.array(z.object({ ref: z.string().max(200).optional().describe('Your reference, echoed back (default: the position, from 1)'), ...SubjectFields })).min(1).max(1000),
      threshold: z.number().min(0).max(1).optional().describe(`Minimum score, default ${DEFAULT_THRESHOLD}`),
      limit: z.number().int().min(1).max(100).optional().describe('Most hits per subject, default 10')
    }),
    output: z.object({
      results: z.array(z.object({
        ref: z.string(),
        query: QuerySchema,
        hits: z.array(HitSchema),
        weakAliasPolicy: WeakAliasPolicySchema,
        alertId: z.string().optional().describe('The alert opened for this subject when it has at least one hit')
      })),
      summary: z.object({ subjects: z.number(), withHits: z.number(), hits: z.number() }),
      algorithm: z.object({ name: z.string(), version: z.string(), threshold: z.number() }),
      datasets: z.array(DatasetSchema),
      listVersion: z.string(),
      warnings: z.array(WarningSchema)
    }),
    readOnly: false,
    run: async (a, ctx, audit) => {
      const { version, warnings } = listsNow(s)
      const threshold = a.threshold ?? DEFAULT_THRESHOLD
      const algorithm = { name: ALGORITHM.name, version: ALGORITHM.version, threshold }
      const limit = a.limit ?? 10
      const total = a.subjects.length
      const step = Math.max(1, Math.ceil(total / 20))
      const results = []
      for (let i = 0; i < total; i++) {
        const { ref, ...subject } = a.subjects[i] as Subject & { ref?: string }
        const hits = version.index.screen(screenQuery(subject, threshold, limit))
        const query = echo(subject)
        const result = { ref: ref ?? String(i + 1), query, hits, weakAliasPolicy: ScreeningIndex.weakAliasPolicy(subject) }
        if (hits.length === 0) results.push(result)
        else {
          const alertId = await s.records.openAlert(screeningAlert({ tool: 'screen_batch', requestId: audit.requestId, subject: { ...query, ref: result.ref }, query, threshold, limit, hits, version, caller: callerInfo(audit) }))
          results.push({ ...result, alertId })
        }
        if ((i + 1) % step === 0 || i + 1 === total) await ctx.progress(i + 1, total, `${i + 1} of ${total} subjects screened`)
      }
      const withHits = results.filter((r) => r.hits.length > 0).length
      return { results, summary: { subjects: total, withHits, hits: results.reduce((n, r) => n + r.hits.length, 0) }, algorithm, datasets: version.datasets, listVersion: version.id, warnings }
    },
    summary: (o) => `${o.summary.subjects} subject(s) screened at threshold ${o.algorithm.threshold}: ${o.summary.withHits} with hits (${o.summary.hits} hits).` +
      o.results.filter((r) => r.hits.length > 0).slice(0, 50).map((r) => `\n${r.ref}: ${r.hits.length} hit(s), best ${r.hits[0]?.source} ${r.hits[0]?.id} ${r.hits[0]?.name} (${r.hits[0]?.score})`).join('')
  })

  const WatchedSchema = z.object({
    customerRef: z.string(),
    subject: QuerySchema,
    watchedAt: z.string(),
    watchedBy: z.string().describe('The subject of the caller who put the customer under watch')
  })

  define({
    name: 'watch_subject',
    title: 'Keep a customer under watch for new designations',
    description: 'Keeps a customer (the fields of a screen_sanctions subject plus your customerRef) under watch. Whenever a new list version adds or changes entries, ' +
      'every watched customer is re-screened against the change only, and an alert is opened (caller system:rescreen, naming the list version that caused it) ' +
      'for each entry the customer did not hit before at the default threshold; list_alerts shows it. Watching a customerRef again replaces its fields. ' +
      'This does not screen now: call screen_sanctions for the current lists.',
    scope: 'sanctions:screen',
    input: z.object({
      customerRef: z.string().min(1).max(200).describe('Your reference for the customer (unique; unwatch_subject takes it)'),
      ...SubjectFields
    }),
    output: WatchedSchema.extend({ replaced: z.boolean().describe('True when this customerRef was already watched (its fields are replaced)') }),
    readOnly: false,
    run: async (a, _ctx, audit) => {
      const { customerRef, ...subject } = a
      const query = echo(subject)
      const w = await s.records.watch({ customerRef, subject: query, by: callerInfo(audit) })
      return { customerRef, subject: query, watchedAt: w.watchedAt, watchedBy: w.watchedBy.subject, replaced: w.replaced }
    },
    effects: (o) => ({ customerRef: o.customerRef, watching: true, replaced: o.replaced }),
    summary: (o) => `${o.replaced ? 'Still watching' : 'Watching'} customer ${o.customerRef} ("${o.subject.name}"): re-screened on every list change.`
  })

  define({
    name: 'unwatch_subject',
    title: 'Stop watching a customer',
    description: 'Takes a customer off the watch list by the customerRef given to watch_subject. Alerts already opened for it stay as they are.',
    scope: 'sanctions:screen',
    input: z.object({ customerRef: z.string().min(1).max(200) }),
    output: z.object({ customerRef: z.string(), removed: z.literal(true) }),
    readOnly: false,
    run: async (a) => {
      if (!await s.records.unwatch(a.customerRef)) throw new McpToolError(`no watched customer "${a.customerRef}": customerRef must be one given to watch_subject`)
      return { customerRef: a.customerRef, removed: true as const }
    },
    effects: (o) => ({ customerRef: o.customerRef, watching: false }),
    summary: (o) => `Customer ${o.customerRef} is no longer watched.`
  })

  define({
    name: 'get_sanctions_entry',
    title: 'Read a sanctions list entry',
    description: 'Returns the complete entry of a sanctions list by its source (OFAC-SDN, OFAC-CONS, UN, EU or UK) and the list\'s own id (OFAC ent_num, UN reference number): ' +
      'names and aliases, type, programs, countries, dates of birth, identifiers and remarks.',
    scope: 'sanctions:read',
    input: z.object({ source: z.string().min(2).max(40).describe('List code: OFAC-SDN, OFAC-CONS, UN, EU, UK'), id: z.string().min(1).max(40) }),
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
      const { version } = listsNow(s)
      const entry = version.index.getEntry(a.source, a.id)
      if (entry === undefined) throw new McpToolError(`no ${a.source} entry with id "${a.id}" in the loaded lists`)
      return { entry, dataset: version.datasets.find((d) => d.source === a.source) as DatasetInfo }
    },
    summary: (o) => `${o.entry.source} ${o.entry.id}: ${o.entry.name} (${o.entry.type}; ${o.entry.programs.join(', ')}).`
  })

  define({
    name: 'list_sources',
    title: 'List the loaded sanctions lists and risk lists',
    description: 'Names every loaded list with its source id, format, publication date (publishedAt, null when the format carries none), fetch time, SHA-256 and record count; ' +
      'the state of each configured source (age since its last successful check, last error, stale); the list version; the matching algorithm and its default threshold; and the dates of the FATF and EU country lists.',
    scope: 'sanctions:read',
    input: z.object({}),
    output: z.object({
      datasets: z.array(DatasetSchema),
      listVersion: z.string(),
      sources: z.array(z.object({ id: z.string(), kind: z.enum(['url', 'path']), ageSeconds: z.number(), lastSuccessAt: z.string().optional(), lastCheckAt: z.string().optional(), lastError: z.string().optional(), stale: z.boolean(), records: z.number() })),
      warnings: z.array(WarningSchema),
      algorithm: z.object({ name: z.string(), version: z.string(), description: z.string(), defaultThreshold: z.number() }),
      countryLists: z.object({ fatf: z.string(), eu: z.string() })
    }),
    readOnly: true,
    run: () => {
      const { version, warnings } = listsNow(s)
      return { datasets: version.datasets, listVersion: version.id, sources: s.lists.status(), warnings, algorithm: { ...ALGORITHM, defaultThreshold: DEFAULT_THRESHOLD }, countryLists: s.risk.asOf }
    },
    summary: (o) => `${o.datasets.map((d) => `${d.sourceId}: ${d.source} (${d.records} records, published ${d.publishedAt ?? 'date not stated'})`).join('; ')}.`
  })
}
