import { z } from 'zod'
import { McpToolError } from '@mcp-fastify/fastify-mcp'
import { ALGORITHM, DEFAULT_THRESHOLD } from '../screening/index.js'
import type { DatasetInfo } from '../domain/types.js'
import { DatasetSchema, DateSchema, EntryTypeSchema, type Define, type Services } from './define.js'

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
  remarks: z.string().optional()
})

/** Registers the screening tools. */
export function registerScreeningTools (define: Define, s: Services): void {
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
}
