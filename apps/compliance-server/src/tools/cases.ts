import { z } from 'zod'
import { McpToolError } from '@mcp-fastify/fastify-mcp'
import { TRIAGE_METHOD, triageAlert } from '../domain/triage.js'
import { DateSchema, EntryTypeSchema, type Define, type Services } from './define.js'

/** Registers the cases tools. */
export function registerCasesTools (define: Define, s: Services): void {
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
