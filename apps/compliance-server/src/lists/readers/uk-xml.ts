import type { EntryType, NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { child, children, descendants, isoDay, streamXml, textOf, type XmlNode } from '../xml.js'
import { uniq } from './ofac-common.js'

const TYPE: Record<string, EntryType> = { individual: 'individual', entity: 'entity', ship: 'vessel' }

/** `dd/mm/yyyy` with `00` for unknown parts → `YYYY-MM-DD` or `YYYY`. */
function ukDate (s: string | null): string | null {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(s?.trim() ?? '')
  if (m === null) return null
  return m[1] === '00' || m[2] === '00' ? m[3] as string : `${m[3]}-${m[2]}-${m[1]}`
}

function nameOf (n: XmlNode): string {
  const last = textOf(n, 'Name6')
  const rest = ['Name1', 'Name2', 'Name3', 'Name4', 'Name5'].map((k) => textOf(n, k)).filter((x) => x !== null).join(' ')
  return last === null ? rest : rest === '' ? last : `${last}, ${rest}`
}

/**
 * The UK Sanctions List of the FCDO (https://www.gov.uk/government/publications/the-uk-sanctions-list),
 * XML: `Designation` elements; `DateGenerated` is the publication date.
 */
export async function readUkXml (file: ListFile): Promise<ReadResult> {
  const entries: SanctionsEntry[] = []
  let publishedAt: string | null = null
  await streamXml(file.bytes, {
    file: file.name,
    root: 'Designations',
    expected: 'the UK Sanctions List XML',
    records: new Set(['DateGenerated', 'Designation']),
    onRecord: (n) => {
      if (n.name === 'DateGenerated') { publishedAt = isoDay(textOf(n)); return }
      const id = textOf(n, 'UniqueID')
      const names = children(child(n, 'Names'), 'Name').map((x) => ({ name: nameOf(x), type: textOf(x, 'NameType') ?? '', strength: textOf(x, 'AliasStrength') ?? '' }))
        .filter((x) => x.name !== '')
      const primary = names.find((x) => /primary/i.test(x.type)) ?? names[0]
      if (id === null || primary === undefined) throw new DataError(`${file.name}: a Designation lacks a UniqueID or a name`)
      const aliases: Array<{ name: string, kind: NameKind }> = names.filter((x) => x !== primary)
        .map((x) => ({ name: x.name, kind: /weak|low/i.test(x.strength) ? 'weak' : 'aka' }))
      for (const nl of descendants(n, 'NameNonLatinScript')) { const t = textOf(nl); if (t !== null) aliases.push({ name: t, kind: 'aka' }) }
      const countries = [
        ...descendants(n, 'Nationality').map((x) => textOf(x)),
        ...descendants(n, 'AddressCountry').map((x) => textOf(x))
      ].filter((c): c is string => c !== null)
      const identifiers = [
        ...descendants(n, 'PassportNumber').map((x) => ({ kind: 'passport', value: textOf(x) })),
        ...descendants(n, 'NationalIdentifierNumber').map((x) => ({ kind: 'national id', value: textOf(x) })),
        ...descendants(n, 'IMONumber').map((x) => ({ kind: 'imo', value: textOf(x) }))
      ].filter((d): d is { kind: string, value: string } => d.value !== null)
      const remarks = textOf(n, 'OtherInformation')
      entries.push({
        source: 'UK',
        id,
        name: primary.name,
        type: TYPE[textOf(n, 'IndividualEntityShip')?.toLowerCase() ?? ''] ?? 'entity',
        programs: [textOf(n, 'RegimeName') ?? 'UK'],
        countries: uniq(countries),
        birthDates: uniq(descendants(n, 'DOB').map((d) => ukDate(textOf(d))).filter((d): d is string => d !== null)),
        aliases,
        identifiers,
        ...(remarks === null ? {} : { remarks })
      })
    }
  })
  return { source: 'UK', format: 'uk-xml', entries, publishedAt }
}
