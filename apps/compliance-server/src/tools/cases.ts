import { z } from 'zod'
import { McpToolError } from '@mcp-fastify/fastify-mcp'
import { TRIAGE_METHOD, triageAlert } from '../domain/triage.js'
import type { CallerInfo, StoredHit } from '../records/types.js'
import { DateSchema, EntryTypeSchema, type Define, type Services } from './define.js'

const AlertIdSchema = z.string().min(1).max(100)
const DecisionSchema = z.object({
  decisionId: z.string(),
  alertId: z.string(),
  decision: z.string(),
  note: z.string(),
  decidedBy: z.string(),
  decidedAt: z.string(),
  state: z.enum(['proposed', 'approved', 'rejected']),
  reviewedBy: z.string().optional(),
  reviewedAt: z.string().optional(),
  reviewNote: z.string().optional()
})
const NoteSchema = z.object({ noteId: z.string(), caseId: z.string(), alertId: z.string(), note: z.string(), author: z.string(), createdAt: z.string() })
const AlertStateSchema = z.enum(['open', 'proposed', 'approved'])
const HitSchema = z.object({ source: z.string(), id: z.string(), score: z.number() }).passthrough()

/** `alertId`, or `caseId` as the alias older clients send; one of them is required. */
function alertIdOf (a: { alertId?: string | undefined, caseId?: string | undefined }): string {
  const id = a.alertId ?? a.caseId
  if (id === undefined) throw new McpToolError('alertId is required (caseId is accepted as an alias)')
  return id
}

function callerOf (s: { subject: string, clientId: string | null, issuer: string | null, scopes: string[] } | null): CallerInfo {
  return s === null ? { subject: 'unknown', clientId: null, issuer: null, scopes: [] } : { subject: s.subject, clientId: s.clientId, issuer: s.issuer, scopes: s.scopes }
}

/** Registers the cases tools: triage, four-eyes decisions, notes, the case file and the alert queue. */
export function registerCasesTools (define: Define, s: Services): void {
  define({
    name: 'triage_alert',
    title: 'Triage a screening alert',
    description: 'Weighs a hit of a stored alert against its screened subject, following OFAC\'s published steps for judging a potential match ' +
      '(list, extent of the name match, entry type, date of birth, country, identifiers). Give the alertId that screen_sanctions or screen_batch returned, ' +
      'and optionally hitSource + hitId to choose a hit (default: the best). Hit and subject are read from the stored alert. Returns a suggestion — ' +
      'probable_false_positive, investigate or escalate — with reasons and the step-by-step comparison. It never decides: propose a decision with record_decision.',
    scope: 'alerts:triage',
    input: z.object({
      alertId: AlertIdSchema,
      hitSource: z.string().min(1).max(40).optional(),
      hitId: z.string().min(1).max(40).optional(),
      // Accepted from older clients; the stored alert wins.
      hit: z.object({ source: z.string(), id: z.string(), matchedName: z.string(), score: z.number().min(0).max(1) }).optional(),
      subject: z.object({
        name: z.string().min(1).max(300),
        type: EntryTypeSchema.optional(),
        birthDate: DateSchema.optional(),
        country: z.string().min(2).max(100).optional(),
        identifiers: z.array(z.string().max(100)).max(20).optional()
      }).optional()
    }),
    output: z.object({
      alertId: z.string(),
      caseId: z.string(),
      hit: z.object({ source: z.string(), id: z.string(), matchedName: z.string(), score: z.number() }),
      suggestion: z.enum(['probable_false_positive', 'investigate', 'escalate']),
      reasons: z.array(z.string()),
      steps: z.array(z.object({ step: z.string(), outcome: z.string(), note: z.string() })),
      method: z.object({ source: z.string() }),
      final: z.literal(false)
    }),
    readOnly: true,
    run: async (a) => {
      const alert = await s.records.getAlert(a.alertId)
      if (alert === null) throw new McpToolError(`no alert "${a.alertId}": alert ids come from screen_sanctions or screen_batch answers with a hit`)
      let chosen: StoredHit | undefined
      if (a.hitSource !== undefined || a.hitId !== undefined) {
        chosen = alert.hits.find((h) => h.source === (a.hitSource ?? h.source) && h.id === (a.hitId ?? h.id))
        if (chosen === undefined) throw new McpToolError(`alert "${a.alertId}" has no hit ${a.hitSource ?? '*'} ${a.hitId ?? '*'}; its hits: ${alert.hits.map((h) => `${h.source} ${h.id}`).join(', ')}`)
      } else {
        // An old client's `hit` only chooses among the stored hits; the stored alert wins.
        chosen = alert.hits.find((h) => h.source === a.hit?.source && h.id === a.hit.id) ??
          alert.hits.reduce<StoredHit | undefined>((b, h) => b === undefined || h.score > b.score ? h : b, undefined)
      }
      if (chosen === undefined) throw new McpToolError(`alert "${a.alertId}" has no hit`)
      const hit = { source: chosen.source, id: chosen.id, matchedName: String(chosen.matchedName ?? chosen.name ?? ''), score: chosen.score }
      const subj = alert.subject as { name?: string, type?: string, birthDate?: string, country?: string, identifiers?: string[] }
      const subject = { ...(a.subject ?? {}), ...subj, name: String(subj.name ?? a.subject?.name ?? '') }
      return { alertId: alert.alertId, caseId: alert.alertId, hit, ...triageAlert(hit, s.screening.getEntry(hit.source, hit.id), subject), method: { source: TRIAGE_METHOD.source }, final: false as const }
    },
    summary: (o) => `Suggestion on ${o.alertId} (${o.hit.source} ${o.hit.id}): ${o.suggestion} (${o.reasons.join('; ')}). Not a decision.`
  })

  define({
    name: 'record_decision',
    title: 'Propose the decision on an alert',
    description: 'Proposes an analyst\'s decision on a stored alert — confirmed_hit, false_positive or escalated — with a note (first pair of eyes). ' +
      'The alert is then "proposed" until another principal approves or rejects it with review_decision; a second proposal while one is pending is refused. ' +
      'The proposal is stored with the verified caller as decidedBy and is append-only.',
    scope: 'alerts:decide',
    input: z.object({
      alertId: AlertIdSchema,
      decision: z.enum(['confirmed_hit', 'false_positive', 'escalated']),
      note: z.string().min(1).max(4000)
    }),
    output: z.object({ alertId: z.string(), caseId: z.string(), alertState: AlertStateSchema, decision: DecisionSchema }),
    readOnly: false,
    run: async (a, ctx) => {
      const decision = await s.records.proposeDecision({ alertId: a.alertId, decision: a.decision, note: a.note, by: callerOf(ctx.caller).subject })
      return { alertId: a.alertId, caseId: a.alertId, alertState: 'proposed' as const, decision }
    },
    effects: (o) => ({ alertId: o.alertId, decisionId: o.decision.decisionId, decision: o.decision.decision, alertState: o.alertState }),
    summary: (o) => `Decision ${o.decision.decision} proposed on alert ${o.alertId} by ${o.decision.decidedBy}; it needs review by another principal (review_decision).`
  })

  define({
    name: 'review_decision',
    title: 'Approve or reject a proposed decision',
    description: 'Completes the four-eyes check on an alert\'s pending decision: approve (the alert is closed with that decision) or reject ' +
      '(the alert is open again for a new proposal), with a note. The reviewer must not be the proposer.',
    scope: 'alerts:approve',
    input: z.object({ alertId: AlertIdSchema, verdict: z.enum(['approve', 'reject']), note: z.string().min(1).max(4000) }),
    output: z.object({ alertId: z.string(), caseId: z.string(), alertState: AlertStateSchema, decision: DecisionSchema }),
    readOnly: false,
    run: async (a, ctx) => {
      const r = await s.records.reviewDecision({ alertId: a.alertId, verdict: a.verdict, note: a.note, by: callerOf(ctx.caller).subject })
      return { alertId: a.alertId, caseId: a.alertId, alertState: r.alertState, decision: r.decision }
    },
    effects: (o) => ({ alertId: o.alertId, decisionId: o.decision.decisionId, verdict: o.decision.state, alertState: o.alertState }),
    summary: (o) => `Decision ${o.decision.decision} on alert ${o.alertId} ${o.decision.state} by ${o.decision.reviewedBy ?? '?'}; alert is ${o.alertState}.`
  })

  define({
    name: 'add_case_note',
    title: 'Add a note to a case',
    description: 'Appends a note to the case of an alert (the case of an alert is the alert: give its alertId; caseId is accepted as an alias). Notes are append-only and carry the verified caller as author.',
    scope: 'cases:write',
    input: z.object({ alertId: AlertIdSchema.optional(), caseId: AlertIdSchema.optional(), note: z.string().min(1).max(4000) }),
    output: z.object({ alertId: z.string(), caseId: z.string(), note: NoteSchema }),
    readOnly: false,
    run: async (a, ctx) => {
      const alertId = alertIdOf(a)
      const note = await s.records.addNote({ alertId, note: a.note, author: callerOf(ctx.caller).subject })
      return { alertId, caseId: alertId, note }
    },
    effects: (o) => ({ alertId: o.alertId, noteId: o.note.noteId }),
    summary: (o) => `Note added to case ${o.alertId} by ${o.note.author}.`
  })

  define({
    name: 'get_case',
    title: 'Read a case',
    description: 'Returns the case of an alert: the alert with its evidence (query, hits, dataset versions, algorithm), the full decision history (proposals and reviews) and the notes, oldest first.',
    scope: 'cases:read',
    input: z.object({ alertId: AlertIdSchema.optional(), caseId: AlertIdSchema.optional() }),
    output: z.object({
      alertId: z.string(),
      caseId: z.string(),
      case: z.object({
        caseId: z.string(),
        alertId: z.string(),
        alert: z.object({
          alertId: z.string(),
          state: AlertStateSchema,
          tool: z.string(),
          requestId: z.string(),
          subject: z.record(z.string(), z.unknown()),
          query: z.record(z.string(), z.unknown()),
          hits: z.array(HitSchema),
          datasets: z.array(z.unknown()),
          algorithm: z.record(z.string(), z.unknown()),
          openedBy: z.object({ subject: z.string(), clientId: z.string().optional(), issuer: z.string().optional(), scopes: z.array(z.string()) }),
          openedAt: z.string(),
          updatedAt: z.string()
        }),
        decisions: z.array(DecisionSchema),
        notes: z.array(NoteSchema)
      })
    }),
    readOnly: true,
    run: async (a) => {
      const alertId = alertIdOf(a)
      const found = await s.records.getCase(alertId)
      if (found === null) throw new McpToolError(`no alert "${alertId}": alert ids come from screen_sanctions or screen_batch answers with a hit`)
      return { alertId, caseId: alertId, case: found }
    },
    summary: (o) => `Case ${o.alertId} (${o.case.alert.state}): ${o.case.alert.hits.length} hit(s), ${o.case.decisions.length} decision(s), ${o.case.notes.length} note(s).`
  })

  define({
    name: 'list_alerts',
    title: 'List alerts (the analyst queue)',
    description: 'Lists stored alerts, oldest first: filter by state (open, proposed, approved) and olderThan (an ISO date-time); page with cursor (nextCursor of the previous answer) and limit (default 50, at most 200).',
    scope: 'cases:read',
    input: z.object({
      state: AlertStateSchema.optional(),
      olderThan: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO 8601 date or date-time').optional(),
      cursor: z.string().min(1).max(500).optional(),
      limit: z.number().int().min(1).max(200).optional()
    }),
    output: z.object({
      alerts: z.array(z.object({ alertId: z.string(), state: AlertStateSchema, openedAt: z.string(), updatedAt: z.string(), subject: z.record(z.string(), z.unknown()), bestHit: HitSchema.optional(), hits: z.number() })),
      nextCursor: z.string().optional()
    }),
    readOnly: true,
    run: async (a) => await s.records.listAlerts(a),
    summary: (o) => `${o.alerts.length} alert(s)${o.nextCursor === undefined ? '' : '; more with nextCursor'}.`
  })
}
