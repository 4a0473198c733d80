import { ProtocolError, type GetPromptResult, type PromptMessage } from '@modelcontextprotocol/server'
import { RPC, type McpCaller, type McpContext, type McpRegistry, type PromptDefinition } from '@mcp-fastify/fastify-mcp'
import { z } from 'zod'
import { countryNames, resolveCountry } from '../domain/countries.js'
import { TRIAGE_METHOD } from '../domain/triage.js'
import { alertIdsFor, caseUri, readCaseFile } from '../resources/index.js'
import type { Services } from '../tools/define.js'

const AlertId = z.string().min(1, 'must not be empty').max(100, 'at most 100 characters').regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only')
const BirthDate = z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'a date as YYYY-MM-DD or a year YYYY')

/** `_meta` key listing the tools a prompt expects the model to call. */
export const EXPECTED_TOOLS_META = 'compliance/expectedTools'

function parse<S extends z.ZodType> (prompt: string, schema: S, args: Record<string, string>): z.infer<S> {
  const r = schema.safeParse(args)
  if (r.success) return r.data
  const message = r.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')
  throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid arguments for prompt ${prompt}: ${message}`)
}

function requireCaller (ctx: McpContext): McpCaller {
  if (ctx.caller === null) throw new ProtocolError(RPC.FORBIDDEN, 'this service requires an authenticated caller')
  return ctx.caller
}

const user = (text: string): PromptMessage => ({ role: 'user', content: { type: 'text', text } })

/** The case file as an embedded resource, only for a caller who may read it (`cases:read`). */
async function caseMessage (s: Services, caller: McpCaller, alertId: string): Promise<PromptMessage | null> {
  if (!caller.scopes.includes('cases:read')) return null
  const file = await readCaseFile(s, alertId)
  if (file === null) return null
  return { role: 'user', content: { type: 'resource', resource: { uri: caseUri(alertId), mimeType: 'application/json', text: JSON.stringify({ case: file }, null, 2) } } }
}

function define (registry: McpRegistry, def: Omit<PromptDefinition, '_meta'> & { tools: string[] }): void {
  const { tools, ...rest } = def
  registry.prompt({ ...rest, _meta: { [EXPECTED_TOOLS_META]: tools } })
}

/**
 * The analyst's procedures as prompts. Any authenticated caller may get them; the tools they name keep
 * their own scopes, and data is embedded only where the caller's scopes allow reading it.
 */
export function registerPrompts (registry: McpRegistry, s: Services): void {
  const alertIds = async (value: string, { caller }: { caller: McpCaller | null }): Promise<string[]> => await alertIdsFor(s, caller, value)

  const triageTools = ['get_case', 'get_sanctions_entry', 'triage_alert', 'record_decision']
  define(registry, {
    name: 'triage_hit',
    title: 'Triage a screening hit',
    description: `Walks through OFAC's published steps for judging a potential match on an alert and ends with a proposed decision for record_decision. Tools: ${triageTools.join(', ')}.`,
    arguments: [{ name: 'alertId', description: 'The alert (case) id', required: true, complete: alertIds }],
    tools: triageTools,
    handler: async (args, ctx): Promise<GetPromptResult> => {
      const caller = requireCaller(ctx)
      const { alertId } = parse('triage_hit', z.object({ alertId: AlertId }), args)
      const text = [
        `Triage alert ${alertId}, following ${TRIAGE_METHOD.source}. Do the steps in order and say what each found.`,
        `1. Read the case: call get_case with caseId "${alertId}" (or read ${caseUri(alertId)}) for the hit: list, entry id, matched name, score.`,
        '2. Which list: call get_sanctions_entry for the hit\'s source and id. Is the match against the SDN list (or another list the institution must honour)? Which programs?',
        '3. Which name and how strong: is the match against the primary name, an alias, or a weak alias? Does only one part of a multi-part name match? A match on a single name part, or on a weak alias, is rarely a valid match.',
        '4. Compare the complete entry: type (individual, entity, vessel, aircraft), dates of birth, nationality and addresses, and identifiers (passport, national id, IMO, BIC, LEI). Call triage_alert with the hit and what is known of the subject to get the step-by-step comparison.',
        '5. Weigh it: clear conflicts (other type, other date of birth, other country, different identifiers) point to a false positive; several agreements, or nothing to tell them apart, mean the match stays and must be escalated. When in doubt, escalate — never clear a hit on the name alone.',
        `6. What to record: end with a proposed decision for record_decision — { "alertId": "${alertId}", "decision": "confirmed_hit" | "false_positive" | "escalated", "note": "<the reasons, naming the list, the entry and the identifiers compared>" }. Do not call record_decision until the analyst agrees; the decision is recorded under their name.`
      ].join('\n')
      const file = await caseMessage(s, caller, alertId)
      return { description: `Triage of alert ${alertId}`, messages: file === null ? [user(text)] : [user(text), file] }
    }
  })

  const memoTools = ['get_case', 'list_sources', 'get_sanctions_entry', 'add_case_note']
  define(registry, {
    name: 'screening_memo',
    title: 'Write the screening memo',
    description: `A memo for the case file in the house format: subject, lists and versions screened, hits and why, decision and reviewer. Tools: ${memoTools.join(', ')}.`,
    arguments: [{ name: 'alertId', description: 'The alert (case) id', required: true, complete: alertIds }],
    tools: memoTools,
    handler: async (args, ctx): Promise<GetPromptResult> => {
      const caller = requireCaller(ctx)
      const { alertId } = parse('screening_memo', z.object({ alertId: AlertId }), args)
      const text = [
        `Write the screening memo for case ${alertId}. Gather the facts with get_case ("${alertId}"), list_sources (the lists and their versions) and get_sanctions_entry (each hit's entry); state only what those tools return.`,
        'Use exactly these headings:',
        'Subject: who or what was screened, with the details used (name, type, date of birth, country, identifiers).',
        'Lists screened: each list with its file date, record count and SHA-256, as list_sources gives them.',
        'Hits: each hit with its list, entry id, matched name and score, and why it was or was not a match.',
        'Decision: the recorded decision, who decided and when, quoting its note; "none recorded" if there is none.',
        'Reviewer: who reviewed the decision, or "pending review".',
        'Then offer to append the memo to the case with add_case_note (caseId as above); do not add it unasked.'
      ].join('\n')
      const file = await caseMessage(s, caller, alertId)
      return { description: `Screening memo for case ${alertId}`, messages: file === null ? [user(text)] : [user(text), file] }
    }
  })

  const onboardTools = ['screen_sanctions', 'triage_alert', 'country_risk', 'validate_identifier', 'record_decision']
  define(registry, {
    name: 'onboard_customer',
    title: 'Onboard a customer',
    description: `Screening, jurisdiction risk and identifier checks for a new customer, in order, with what to escalate. Tools: ${onboardTools.join(', ')}.`,
    arguments: [
      { name: 'name', description: 'The customer\'s full name', required: true },
      { name: 'country', description: 'Country of residence or incorporation (name or ISO code)', required: true, complete: (value) => countryNames().filter((n) => n.toLowerCase().startsWith(value.toLowerCase())) },
      { name: 'birthDate', description: 'Date of birth (YYYY-MM-DD or YYYY), for individuals', required: false }
    ],
    tools: onboardTools,
    handler: async (args, ctx): Promise<GetPromptResult> => {
      requireCaller(ctx)
      const a = parse('onboard_customer', z.object({
        name: z.string().trim().min(1, 'must not be empty').max(300, 'at most 300 characters'),
        country: z.string().min(1, 'must not be empty').max(100),
        birthDate: BirthDate.optional()
      }), args)
      const country = resolveCountry(a.country)
      if (country === null) throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid arguments for prompt onboard_customer: country: unknown country "${a.country}"`)
      const screenArgs = { name: a.name, country: country.name, ...(a.birthDate === undefined ? {} : { birthDate: a.birthDate }) }
      const text = [
        `Onboard ${a.name} (${country.name}, ${country.alpha2}${a.birthDate === undefined ? '' : `, born ${a.birthDate}`}). Do the checks in this order and report each result with the list versions it names.`,
        `1. Sanctions screening: call screen_sanctions with ${JSON.stringify(screenArgs)}. For each hit call triage_alert with the hit and these subject details.`,
        `2. Jurisdiction risk: call country_risk with { "country": "${country.alpha2}" }.`,
        '3. Identifiers: ask for the customer\'s IBAN, BIC or LEI where relevant and check each with validate_identifier.',
        'Escalate (do not onboard; hand to compliance) when: a hit is not a probable false positive after triage; the country is on the FATF call for action or the EU countermeasures list (high risk); an identifier is invalid or belongs to someone else. An elevated country risk (FATF increased monitoring, EU high-risk third country) needs enhanced due diligence before onboarding.',
        'Record an analyst decision on any alert with record_decision only when the analyst confirms it.'
      ].join('\n')
      return { description: `Onboarding checks for ${a.name}`, messages: [user(text)] }
    }
  })
}
