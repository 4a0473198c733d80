import type { EntryType } from '../../domain/types.js'

const MONTHS: Record<string, string> = { jan: '01', feb: '02', mar: '03', apr: '04', may: '05', jun: '06', jul: '07', aug: '08', sep: '09', oct: '10', nov: '11', dec: '12' }

/** OFAC's `12 Mar 1965` → `1965-03-12`; a text holding only a year → `1965`. */
export function parseDob (text: string): string | null {
  const t = text.trim()
  let m = /^(\d{1,2}) ([A-Za-z]{3}) (\d{4})$/.exec(t)
  if (m !== null) {
    const month = MONTHS[(m[2] as string).toLowerCase()]
    return month === undefined ? null : `${m[3]}-${month}-${(m[1] as string).padStart(2, '0')}`
  }
  m = /(\d{4})/.exec(t)
  return m === null ? null : m[1] as string
}

/** Facts stated in OFAC remarks: weak aliases, birth dates, nationalities and identifiers. */
export function parseRemarks (remarks: string): { aliases: string[], birthDates: string[], countries: string[], identifiers: Array<{ kind: string, value: string }> } {
  const aliases = [...remarks.matchAll(/a\.k\.a\. '([^']+)'/g)].map((m) => m[1] as string)
  const birthDates: string[] = []
  for (const m of remarks.matchAll(/DOB ([^;]+)/g)) {
    for (const part of (m[1] as string).split(/ to |, /)) {
      const d = parseDob(part.replace(/^circa /i, ''))
      if (d !== null) birthDates.push(d)
    }
  }
  const countries = [...remarks.matchAll(/(?:nationality|citizen) ([A-Za-z ,.'()-]+?)(?:;|\.$|$)/g)].map((m) => (m[1] as string).trim())
  const identifiers: Array<{ kind: string, value: string }> = []
  const add = (kind: string, re: RegExp): void => { for (const m of remarks.matchAll(re)) identifiers.push({ kind, value: (m[1] as string).toUpperCase() }) }
  add('imo', /IMO (\d{7})/g)
  add('mmsi', /MMSI (\d{9})/g)
  add('bic', /SWIFT\/BIC ([A-Z0-9]{8,11})/g)
  add('lei', /Legal Entity Number ([A-Z0-9]{20})/g)
  for (const m of remarks.matchAll(/Digital Currency Address - ([A-Z0-9]+) ([A-Za-z0-9]{20,})/g)) identifiers.push({ kind: `crypto:${m[1] as string}`, value: m[2] as string })
  return { aliases, birthDates, countries, identifiers }
}

export function ofacType (raw: string | null): EntryType {
  const t = raw?.toLowerCase() ?? null
  if (t === 'individual' || t === 'vessel' || t === 'aircraft') return t
  return 'entity'
}

/** OFAC's `MM/DD/YYYY` publication date → `YYYY-MM-DD`. */
export function ofacDate (s: string | null): string | null {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s?.trim() ?? '')
  return m === null ? null : `${m[3]}-${(m[1] as string).padStart(2, '0')}-${(m[2] as string).padStart(2, '0')}`
}

export const uniq = <T>(xs: T[]): T[] => [...new Set(xs)]

/** An OFAC identity document, normalised to the identifier kinds the screening index matches exactly. */
export function ofacIdentifier (type: string, value: string): { kind: string, value: string } {
  const t = type.trim()
  const v = value.trim()
  const imo = /^IMO (\d{7})$/.exec(v)
  if (imo !== null) return { kind: 'imo', value: imo[1] as string }
  if (/^MMSI$/i.test(t)) return { kind: 'mmsi', value: v }
  if (/SWIFT\/BIC/i.test(t)) return { kind: 'bic', value: v.toUpperCase() }
  if (/Legal Entity Number/i.test(t)) return { kind: 'lei', value: v.toUpperCase() }
  const crypto = /^Digital Currency Address - (\w+)$/.exec(t)
  if (crypto !== null) return { kind: `crypto:${crypto[1] as string}`, value: v }
  return { kind: t.toLowerCase(), value: v }
}
