import type { McpRegistry } from '@mcp-fastify/fastify-mcp'
import { registerCasesTools } from './cases.js'
import { definer, type Services } from './define.js'
import { registerRiskTools } from './risk.js'
import { registerScreeningTools } from './screening.js'

export type { Services } from './define.js'

/** Registers every tool of the service, each audited and stamped with the verified caller. */
export function registerTools (registry: McpRegistry, s: Services): void {
  const define = definer(registry, s)
  registerScreeningTools(define, s)
  registerRiskTools(define, s)
  registerCasesTools(define, s)
}
