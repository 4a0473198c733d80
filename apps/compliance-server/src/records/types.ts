/** What the records store keeps: alerts with their evidence, four-eyes decisions, notes. */
export type AlertState = 'open' | 'proposed' | 'approved'
export type DecisionKind = 'confirmed_hit' | 'false_positive' | 'escalated'
export type DecisionState = 'proposed' | 'approved' | 'rejected'

export interface CallerInfo { subject: string, clientId: string | null, issuer: string | null, scopes: string[] }

/** A hit as the screening returned it, kept whole (score, explanation, …). */
export interface StoredHit { source: string, id: string, score: number, matchedName?: string, [key: string]: unknown }

export interface AlertInput {
  tool: string
  requestId: string
  subject: Record<string, unknown>
  query: Record<string, unknown>
  hits: ReadonlyArray<{ source: string, id: string, score: number }>
  datasets: unknown[]
  algorithm: Record<string, unknown>
  caller: CallerInfo
}

export interface Alert extends Omit<AlertInput, 'caller' | 'hits'> {
  hits: StoredHit[]
  alertId: string
  state: AlertState
  openedBy: CallerInfo
  openedAt: string
  updatedAt: string
}

export interface Decision {
  decisionId: string
  alertId: string
  decision: DecisionKind
  note: string
  /** The proposer (kept under its old name for existing clients). */
  decidedBy: string
  decidedAt: string
  state: DecisionState
  reviewedBy: string | null
  reviewedAt: string | null
  reviewNote: string | null
}

export interface Note { noteId: string, caseId: string, alertId: string, note: string, author: string, createdAt: string }

export interface CaseFile { caseId: string, alertId: string, alert: Alert, decisions: Decision[], notes: Note[] }

export interface AlertSummary { alertId: string, state: AlertState, openedAt: string, updatedAt: string, subject: Record<string, unknown>, bestHit: StoredHit | null, hits: number }

/** A customer under watch (`watch_subject`): re-screened on every list change. */
export interface WatchedCustomer { customerRef: string, subject: Record<string, unknown>, watchedBy: CallerInfo, watchedAt: string }

/** A refused call as the MCP plugin reports it (`onRefusal`). */
export type { McpRefusal } from '@mcp-fastify/fastify-mcp'

/** A clear refusal of a records operation (unknown alert, second proposal, own review): a tool error. */
export class RecordsError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RecordsError'
  }
}

/** The store cannot be reached: the call is not answered. */
export class RecordsUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'RecordsUnavailableError'
  }
}
