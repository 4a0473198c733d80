import type { RecordsStore } from './store.js'
import type { McpRefusal } from './types.js'

/**
 * Records a refused call (401/403/-32003, unknown session, malformed input) in the audit chain,
 * awaited before the refusal is sent. The plugin hands no token material; anything credential-like
 * that slips into the message is redacted by the chain.
 */
export async function auditRefusal (records: Pick<RecordsStore, 'append'>, refusal: McpRefusal): Promise<void> {
  await records.append({
    kind: 'refusal',
    requestId: refusal.requestId,
    at: refusal.at,
    outcome: 'refused',
    status: refusal.status,
    ...(refusal.code === undefined ? {} : { code: refusal.code }),
    reason: refusal.reason,
    message: refusal.message,
    ...(refusal.method === undefined ? {} : { method: refusal.method }),
    ...(refusal.target === undefined ? {} : { tool: refusal.target }),
    caller: refusal.caller === null ? null : { subject: refusal.caller.subject, clientId: refusal.caller.clientId, issuer: refusal.caller.issuer, scopes: refusal.caller.scopes },
    session: refusal.sessionId ?? null,
    ...(refusal.protocolVersion === undefined ? {} : { protocolVersion: refusal.protocolVersion }),
    ip: refusal.ip
  })
}
