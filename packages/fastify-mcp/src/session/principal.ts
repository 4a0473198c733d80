import type { McpPrincipal } from './types.js'

/** One principal, as the per-principal session cap counts it: issuer and subject (any client). */
export function principalKey (p: McpPrincipal | null): string | null {
  return p === null ? null : `${p.issuer ?? ''} ${p.subject}`
}
