import { z } from 'zod'
import { McpToolError } from '@mcp-fastify/fastify-mcp'
import { resolveCountry } from '../domain/countries.js'
import { validateIdentifier } from '../domain/identifiers.js'
import type { Define, Services } from './define.js'

/** Registers the risk tools. */
export function registerRiskTools (define: Define, s: Services): void {
  define({
    name: 'country_risk',
    title: 'Jurisdiction risk of a country',
    description: 'Tells whether a country is on the FATF "call for action" or "increased monitoring" lists or on the EU list of high-risk third countries. ' +
      'Accepts ISO alpha-2, alpha-3, or an English name as the lists spell it ("Korea, North", "Burma", "Iran (Islamic Republic of)"). ' +
      'Every answer carries the lists\' as-of dates and sources: these lists change at every FATF plenary.',
    scope: 'risk:read',
    input: z.object({ country: z.string().min(2).max(100) }),
    output: z.object({
      country: z.object({ alpha2: z.string(), alpha3: z.string(), name: z.string() }),
      riskLevel: z.enum(['high', 'elevated', 'standard']),
      lists: z.array(z.object({ list: z.string(), status: z.string(), measure: z.string().optional(), source: z.string(), asOf: z.string() })),
      asOf: z.object({ fatf: z.string(), eu: z.string() }),
      sources: z.array(z.string())
    }),
    readOnly: true,
    run: (a) => {
      const country = resolveCountry(a.country)
      if (country === null) throw new McpToolError(`unknown country "${a.country}": give an ISO 3166 alpha-2 or alpha-3 code or an English name`)
      return s.risk.assess(country)
    },
    summary: (o) => `${o.country.name} (${o.country.alpha2}): ${o.riskLevel} risk${o.lists.length > 0 ? ` — ${o.lists.map((l) => `${l.list} ${l.status}`).join(', ')}` : ''} (FATF as of ${o.asOf.fatf}, EU as of ${o.asOf.eu}).`
  })

  define({
    name: 'validate_identifier',
    title: 'Validate an IBAN, BIC or LEI',
    description: 'Checks the format and check digits of an IBAN (ISO 13616), a BIC (ISO 9362) or an LEI (ISO 17442) and returns the normalized form, the reasons when invalid, and its parts.',
    scope: 'identifiers:validate',
    input: z.object({ kind: z.enum(['iban', 'bic', 'lei']), value: z.string().min(1).max(64) }),
    output: z.object({ kind: z.string(), value: z.string(), normalized: z.string(), valid: z.boolean(), reasons: z.array(z.string()), details: z.record(z.string(), z.string()).optional() }),
    readOnly: true,
    run: (a) => validateIdentifier(a.kind, a.value),
    summary: (o) => `${o.kind.toUpperCase()} ${o.normalized} is ${o.valid ? 'valid' : `invalid: ${o.reasons.join('; ')}`}.`
  })
}
