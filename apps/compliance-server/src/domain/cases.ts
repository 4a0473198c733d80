import { randomUUID } from 'node:crypto'

export type Decision = 'confirmed_hit' | 'false_positive' | 'escalated'

export interface DecisionRecord { decisionId: string, alertId: string, decision: Decision, note: string, decidedBy: string, decidedAt: string }
export interface CaseNote { noteId: string, caseId: string, note: string, author: string, createdAt: string }
export interface CaseFile { caseId: string, decisions: DecisionRecord[], notes: CaseNote[] }

/** Where decisions and case notes are kept: append-only by contract. */
export interface CaseStore {
  recordDecision: (d: Omit<DecisionRecord, 'decisionId' | 'decidedAt'>) => Promise<DecisionRecord>
  addNote: (n: Omit<CaseNote, 'noteId' | 'createdAt'>) => Promise<CaseNote>
  get: (caseId: string) => Promise<CaseFile | null>
  /** Case ids starting with `prefix`, at most `limit` (for completion); optional for a store. */
  ids?: (prefix: string, limit: number) => Promise<string[]>
}

/** In-process case store (a decision's alert id is its case id). */
export class MemoryCaseStore implements CaseStore {
  readonly #cases = new Map<string, CaseFile>()

  #file (caseId: string): CaseFile {
    let file = this.#cases.get(caseId)
    if (file === undefined) this.#cases.set(caseId, file = { caseId, decisions: [], notes: [] })
    return file
  }

  async recordDecision (d: Omit<DecisionRecord, 'decisionId' | 'decidedAt'>): Promise<DecisionRecord> {
    const record = { decisionId: randomUUID(), ...d, decidedAt: new Date().toISOString() }
    this.#file(d.alertId).decisions.push(record)
    return record
  }

  async addNote (n: Omit<CaseNote, 'noteId' | 'createdAt'>): Promise<CaseNote> {
    const note = { noteId: randomUUID(), ...n, createdAt: new Date().toISOString() }
    this.#file(n.caseId).notes.push(note)
    return note
  }

  async ids (prefix: string, limit: number): Promise<string[]> {
    return [...this.#cases.keys()].filter((id) => id.startsWith(prefix)).sort().slice(0, limit)
  }

  async get (caseId: string): Promise<CaseFile | null> {
    const file = this.#cases.get(caseId)
    return file === undefined ? null : structuredClone(file)
  }
}
