/** A document or registration number stated for a listed party. */
export interface Identifier { kind: string, value: string, country?: string }

const DOCUMENTS: Array<[kind: string, re: RegExp]> = [
  ['passport', /(?:^|[;\s])(?:Diplomatic |Official |Service )?Passport (?:No\. )?([A-Z0-9][A-Z0-9 /.-]{2,30}?)(?: \(([^)]+)\))?(?=;|\.?$|,| issued| expires)/gi],
  ['national_id', /(?:National ID No\.|Cedula No\.|NIT #|Identification Number|Personal ID Card|C\.U\.R\.P\. #|R\.F\.C\. #|Tax ID No\.) ?([A-Z0-9][A-Z0-9 /.-]{2,30}?)(?: \(([^)]+)\))?(?=;|\.?$|,| issued| expires)/gi],
  ['imo', /IMO (\d{7})/g],
  ['mmsi', /MMSI (\d{9})/g],
  ['bic', /SWIFT\/BIC ([A-Z0-9]{8,11})/g],
  ['lei', /Legal Entity Number ([A-Z0-9]{20})/g]
]

/** Extracts identifiers from the remarks of an OFAC entry: passports, national IDs, IMO, MMSI, BIC, LEI, digital currency addresses. */
export function extractIdentifiers (remarks: string): Identifier[] {
  const out: Identifier[] = []
  for (const [kind, re] of DOCUMENTS) {
    for (const m of remarks.matchAll(re)) {
      const id: Identifier = { kind, value: (m[1] as string).trim() }
      if (m[2] !== undefined) id.country = m[2]
      out.push(id)
    }
  }
  for (const m of remarks.matchAll(/Digital Currency Address - ([A-Z0-9]+) ([A-Za-z0-9]{20,})/g)) out.push({ kind: `crypto:${m[1] as string}`, value: m[2] as string })
  return out
}

/** The comparable form of an identifier value: upper case, without spaces, dashes, dots or slashes, and without a leading kind word. Crypto addresses keep their case. */
export function normalizeIdentifier (value: string, kind?: string): string {
  const v = value.trim().replace(/^(imo|mmsi|swift\/bic|bic|lei|passport|national id)\s*(no\.?)?\s*/i, '')
  if (kind?.startsWith('crypto') === true || /^(0x[0-9a-fA-F]{40}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|bc1[a-z0-9]{20,})$/.test(v)) return v.replace(/\s/g, '')
  return v.replace(/[\s./-]/g, '').toUpperCase()
}

/** Identifier kinds that compare with each other (a crypto address of any currency matches any). */
export function kindFamily (kind: string): string {
  const k = kind.toLowerCase()
  if (k.startsWith('crypto')) return 'crypto'
  if (k === 'passport') return 'passport'
  if (k === 'national_id' || k === 'national id' || k === 'tax_id') return 'national_id'
  return k
}
