import type { McpCaller } from '../registry/types.js'
import type { McpPrincipal } from './types.js'

/**
 * The one identity of a verified caller, used everywhere the plugin asks "who": session ownership,
 * the per-principal session cap, the rate-limit key and the binding of 2026 `requestState`.
 */
export function principalOf (caller: McpCaller | null): McpPrincipal | null {
  return caller === null ? null : { issuer: caller.issuer, subject: caller.subject, clientId: caller.clientId }
}

/** Whether two principals are the same owner: issuer, subject and client (a session belongs to one client of one person). */
export function samePrincipal (a: McpPrincipal | null, b: McpPrincipal | null): boolean {
  if (a === null || b === null) return a === b
  return a.issuer === b.issuer && a.subject === b.subject && a.clientId === b.clientId
}

/** The owner as one string (issuer, subject, client), as {@link samePrincipal} compares them; '' without a caller. */
export function ownerKey (p: McpPrincipal | null): string {
  return p === null ? '' : `${p.issuer ?? ''}\0${p.subject}\0${p.clientId ?? ''}`
}

/** The person behind a principal, whatever client they use (issuer and subject): what the session cap and the rate limit count. */
export function principalKey (p: McpPrincipal | null): string | null {
  return p === null ? null : `${p.issuer ?? ''} ${p.subject}`
}
