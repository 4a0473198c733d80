/** What the authorization server audits: who, which client, what happened; never a token or a password. */
export interface AuthEvent {
  event: 'sign-in' | 'sign-in-failed' | 'locked-out' | 'consent' | 'token' | 'refresh' | 'revocation' | 'registration' | 'failure'
  username?: string | null
  clientId?: string | null
  scopes?: string[]
  reason?: string
  ip?: string
}

export interface AuditSink { append: (record: Record<string, unknown>) => Promise<unknown> }

/** The one function every auth event goes through; it appends to the audit chain of the records store. */
export type AuditAuthEvent = (event: AuthEvent) => Promise<void>

export function createAuthAuditor (sink: AuditSink, onError: (err: unknown) => void): AuditAuthEvent {
  return async function auditAuthEvent (event: AuthEvent): Promise<void> {
    const record: Record<string, unknown> = { kind: 'auth', at: new Date().toISOString() }
    for (const [k, v] of Object.entries(event)) if (v !== undefined) record[k] = v
    await sink.append(record).catch(onError)
  }
}
