import type { McpCaller, McpRegistry } from '@mcp-fastify/fastify-mcp'
import type { CaseFile } from '../records/types.js'
import type { SanctionsEntry } from '../domain/types.js'
import type { Services } from '../tools/define.js'
import { audited, jsonAndText, notFound } from './audit.js'

export const SOURCES_URI = 'sanctions://sources'
export const COUNTRIES_URI = 'risk://countries'
export const caseUri = (alertId: string): string => `case://${encodeURIComponent(alertId)}`

/** The case file of an alert from the records store (alert with its hits, decisions with reviews, notes). */
export async function readCaseFile (s: Services, alertId: string): Promise<CaseFile | null> {
  return await s.records.getCase(alertId)
}

/** Alert ids the caller may read, for completion: none without `cases:read`. */
export async function alertIdsFor (s: Services, caller: McpCaller | null, prefix: string): Promise<string[]> {
  if (caller === null || !caller.scopes.includes('cases:read')) return []
  return await s.records.alertIds(prefix, 100)
}

function startsWith (values: string[], prefix: string): string[] {
  const p = prefix.toLowerCase()
  return values.filter((v) => v.toLowerCase().startsWith(p))
}

function entryText (e: SanctionsEntry): string {
  const lines = [`${e.name} — ${e.type}, ${e.source} entry ${e.id}`, `Programs: ${e.programs.join(', ') || 'none'}`]
  if (e.aliases.length > 0) lines.push(`Also known as: ${e.aliases.map((a) => `${a.name} (${a.kind})`).join('; ')}`)
  if (e.birthDates.length > 0) lines.push(`Born: ${e.birthDates.join(', ')}`)
  if (e.countries.length > 0) lines.push(`Countries: ${e.countries.join(', ')}`)
  if (e.identifiers.length > 0) lines.push(`Identifiers: ${e.identifiers.map((i) => `${i.kind} ${i.value}`).join('; ')}`)
  if (e.remarks !== undefined) lines.push(`Remarks: ${e.remarks}`)
  return lines.join('\n')
}

function caseText (file: CaseFile): string {
  const a = file.alert
  const lines = [`Case ${file.caseId} — state ${a.state}, opened ${a.openedAt} by ${a.openedBy.subject} (${a.tool})`, `Subject: ${JSON.stringify(a.subject)}`]
  lines.push(`Hits (${a.hits.length}):`, ...a.hits.map((h) => `- ${h.source} ${h.id} ${h.matchedName ?? ''} score ${h.score}`))
  lines.push(`Decisions (${file.decisions.length}):`, ...file.decisions.map((d) => `- ${d.decidedAt} ${d.decision} proposed by ${d.decidedBy}: ${d.note} [${d.state}${d.reviewedBy === null ? '' : ` by ${d.reviewedBy} at ${d.reviewedAt ?? ''}: ${d.reviewNote ?? ''}`}]`))
  lines.push(`Notes (${file.notes.length}):`, ...file.notes.map((n) => `- ${n.createdAt} ${n.author}: ${n.note}`))
  return lines.join('\n')
}

/**
 * The service's data as MCP resources: the loaded lists and their entries (`sanctions:read`), case files
 * (`cases:read`, subscribable), the country-risk lists (`risk:read`). Every read is audited.
 */
export function registerResources (registry: McpRegistry, s: Services): void {
  registry.resource({
    uri: SOURCES_URI,
    name: 'sanctions-sources',
    title: 'Loaded sanctions lists',
    description: 'The sanctions lists this instance screens against: source, file, publication date, SHA-256 and record count. Updated when a list is refreshed.',
    mimeType: 'application/json',
    scopes: ['sanctions:read'],
    subscribable: true,
    handler: async (uri, ctx) => await audited(s, uri, ctx, () => jsonAndText(uri, { datasets: s.datasets },
      s.datasets.map((d) => `${d.source}: ${d.file}, ${d.publishedAt === null ? 'undated' : `dated ${d.publishedAt}`}, ${d.records} records, sha256 ${d.sha256}${d.note === undefined ? '' : ` (${d.note})`}`).join('\n')))
  })

  registry.resourceTemplate({
    uriTemplate: 'sanctions://entry/{source}/{id}',
    name: 'sanctions-entry',
    title: 'A sanctions list entry',
    description: 'One listed entry (names, aliases, programs, dates of birth, countries, identifiers) as JSON and as text. Sources: see sanctions://sources.',
    mimeType: 'application/json',
    scopes: ['sanctions:read'],
    complete: { source: (value) => startsWith([...new Set(s.datasets.map((d) => d.source))], value) },
    handler: async (uri, vars, ctx) => await audited(s, uri, ctx, () => {
      const source = decodeURIComponent(String(vars.source))
      const id = decodeURIComponent(String(vars.id))
      const entry = s.screening.getEntry(source, id)
      if (entry === undefined) throw notFound(uri.href, `no entry ${id} in ${source}`)
      return jsonAndText(uri, { entry, datasets: s.datasets.filter((d) => d.source === source) }, entryText(entry))
    })
  })

  registry.resourceTemplate({
    uriTemplate: 'case://{alertId}',
    name: 'case-file',
    title: 'A case file',
    description: 'The case file of an alert: the alert with its hits and evidence, decisions with their reviews, and notes. Subscribe to hear of each new decision or note, made on any instance.',
    mimeType: 'application/json',
    scopes: ['cases:read'],
    subscribable: true,
    complete: { alertId: async (value, { caller }) => await alertIdsFor(s, caller, value) },
    handler: async (uri, vars, ctx) => await audited(s, uri, ctx, async () => {
      const alertId = decodeURIComponent(String(vars.alertId))
      const file = await readCaseFile(s, alertId)
      if (file === null) throw notFound(uri.href, `no case "${alertId}"`)
      return jsonAndText(uri, { case: file }, caseText(file))
    })
  })

  registry.resource({
    uri: COUNTRIES_URI,
    name: 'country-risk-lists',
    title: 'Country-risk lists',
    description: 'The FATF (call for action, increased monitoring) and EU high-risk third country lists, each with its source and as-of date.',
    mimeType: 'application/json',
    scopes: ['risk:read'],
    handler: async (uri, ctx) => await audited(s, uri, ctx, () => {
      const lists = s.risk.lists()
      return jsonAndText(uri, { asOf: s.risk.asOf, lists },
        lists.map((l) => `${l.list} ${l.status} (as of ${l.asOf}): ${l.countries.map((c) => c.name).join(', ') || 'none'}`).join('\n'))
    })
  })
}

/** What the resources announce, wired once the MCP endpoint exists. */
export interface Announcer { resourceUpdated: (uri: string) => Promise<void> }

/**
 * Announces `notifications/resources/updated` for a case after each decision or note recorded through
 * this instance (the bus carries it to subscribers on every instance), and for `sanctions://sources`
 * after each list refresh. Returns the function that stops it.
 */
export function announceChanges (s: Services, mcp: Announcer, onError: (err: unknown) => void): () => void {
  const announce = (uri: string): void => { mcp.resourceUpdated(uri).catch(onError) }
  const offCases = s.records.onCaseChanged((alertId) => { announce(caseUri(alertId)) })
  const offSources = s.onSourcesChanged?.(() => { announce(SOURCES_URI) }) ?? (() => {})
  return () => { offCases(); offSources() }
}
