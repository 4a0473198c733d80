import { electronicFormatIBAN, extractBIC, extractIBAN, isValidBIC, isValidIBAN } from 'ibantools'

export type IdentifierKind = 'iban' | 'bic' | 'lei'

export interface IdentifierCheck {
  kind: IdentifierKind
  value: string
  normalized: string
  valid: boolean
  reasons: string[]
  details?: Record<string, string>
}

/** ISO 17442: 18 alphanumerics and two check digits, ISO 7064 MOD 97-10 over the letters mapped to numbers. */
function leiChecksumOk (lei: string): boolean {
  let remainder = 0
  for (const ch of lei) {
    const digits = /[0-9]/.test(ch) ? ch : String(ch.charCodeAt(0) - 55)
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97
  }
  return remainder === 1
}

/** Validates an IBAN (ibantools), a BIC (ibantools) or an LEI (ISO 17442 check digits). */
export function validateIdentifier (kind: IdentifierKind, value: string): IdentifierCheck {
  const reasons: string[] = []
  if (kind === 'iban') {
    const normalized = electronicFormatIBAN(value) ?? ''
    const valid = isValidIBAN(normalized)
    if (!valid) reasons.push(normalized.length < 15 ? 'too short for an IBAN' : 'country format or check digits do not match (ISO 13616)')
    const out: IdentifierCheck = { kind, value, normalized, valid, reasons }
    if (valid) {
      const x = extractIBAN(normalized)
      out.details = { countryCode: x.countryCode ?? '', bban: x.bban ?? '', ...(x.bankIdentifier === undefined ? {} : { bankIdentifier: x.bankIdentifier }) }
    }
    return out
  }
  if (kind === 'bic') {
    const normalized = value.replace(/\s/g, '').toUpperCase()
    const valid = isValidBIC(normalized)
    if (!valid) reasons.push('not 8 or 11 characters of bank code, ISO country, location and optional branch (ISO 9362)')
    const out: IdentifierCheck = { kind, value, normalized, valid, reasons }
    if (valid) {
      const x = extractBIC(normalized)
      out.details = { bankCode: x.bankCode ?? '', countryCode: x.countryCode ?? '', locationCode: x.locationCode ?? '', ...(x.branchCode === undefined || x.branchCode === null ? {} : { branchCode: x.branchCode }), testBIC: String(x.testBIC ?? false) }
    }
    return out
  }
  const normalized = value.replace(/\s/g, '').toUpperCase()
  let valid = true
  if (!/^[A-Z0-9]{18}[0-9]{2}$/.test(normalized)) {
    valid = false
    reasons.push('an LEI is 18 letters or digits followed by 2 check digits (ISO 17442)')
  } else if (!leiChecksumOk(normalized)) {
    valid = false
    reasons.push('check digits do not match (ISO 7064 MOD 97-10)')
  }
  return valid ? { kind, value, normalized, valid, reasons, details: { louPrefix: normalized.slice(0, 4) } } : { kind, value, normalized, valid, reasons }
}
