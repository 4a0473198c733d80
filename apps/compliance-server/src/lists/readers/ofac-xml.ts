import type { NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { child, children, streamXml, textOf, type XmlNode } from '../xml.js'
import { ofacDate, ofacIdentifier, ofacType, parseDob, parseRemarks, uniq } from './ofac-common.js'

const fullName = (n: XmlNode): string | null => {
  const last = textOf(n, 'lastName')
  const first = textOf(n, 'firstName')
  if (last === null) return first
  return first === null ? last : `${last}, ${first}`
}

const AKA: Record<string, NameKind> = { 'a.k.a.': 'aka', 'f.k.a.': 'fka', 'n.k.a.': 'nka' }

/**
 * OFAC's SDN XML (`sdn.xml`, schema `sdnList.xsd`) and the consolidated list in the same schema
 * (`consolidated.xml`); `Publish_Date` gives the publication date.
 */
export async function readOfacXml (file: ListFile): Promise<ReadResult> {
  const entries: SanctionsEntry[] = []
  let publishedAt: string | null = null
  const source = /cons/i.test(file.name) ? 'OFAC-CONS' : 'OFAC-SDN'
  await streamXml(file.bytes, {
    file: file.name,
    root: 'sdnList',
    expected: 'the OFAC SDN XML (sdnList.xsd)',
    records: new Set(['publshInformation', 'sdnEntry']),
    onRecord: (n) => {
      if (n.name === 'publshInformation') { publishedAt = ofacDate(textOf(n, 'Publish_Date')); return }
      const id = textOf(n, 'uid')
      const name = fullName(n)
      if (id === null || name === null) throw new DataError(`${file.name}: an sdnEntry lacks a uid or a lastName`)
      const remarks = textOf(n, 'remarks')
      const facts = parseRemarks(remarks ?? '')
      const aliases = children(child(n, 'akaList'), 'aka').map((a) => ({
        name: fullName(a),
        kind: textOf(a, 'category') === 'weak' ? 'weak' as NameKind : AKA[textOf(a, 'type')?.toLowerCase() ?? ''] ?? 'aka'
      })).filter((a): a is { name: string, kind: NameKind } => a.name !== null)
      const countries = [
        ...children(child(n, 'nationalityList'), 'nationality').map((x) => textOf(x, 'country')),
        ...children(child(n, 'citizenshipList'), 'citizenship').map((x) => textOf(x, 'country')),
        ...children(child(n, 'addressList'), 'address').map((x) => textOf(x, 'country')),
        ...facts.countries
      ].filter((c): c is string => c !== null)
      const birthDates = children(child(n, 'dateOfBirthList'), 'dateOfBirthItem')
        .map((d) => parseDob(textOf(d, 'dateOfBirth') ?? '')).filter((d): d is string => d !== null)
      const identifiers = [
        ...children(child(n, 'idList'), 'id').map((d) => { const v = textOf(d, 'idNumber'); return v === null ? null : ofacIdentifier(textOf(d, 'idType') ?? 'document', v) })
          .filter((d): d is { kind: string, value: string } => d !== null),
        ...facts.identifiers
      ]
      const imo = textOf(child(n, 'vesselInfo'), 'callSign')
      if (imo !== null) identifiers.push({ kind: 'call sign', value: imo })
      entries.push({
        source,
        id,
        name,
        type: ofacType(textOf(n, 'sdnType')),
        programs: children(child(n, 'programList'), 'program').map((p) => textOf(p)).filter((p): p is string => p !== null),
        countries: uniq(countries),
        birthDates: uniq([...birthDates, ...facts.birthDates]),
        aliases: [...aliases, ...facts.aliases.map((a) => ({ name: a, kind: 'weak' as NameKind }))],
        identifiers,
        ...(remarks === null ? {} : { remarks })
      })
    }
  })
  return { source, format: 'ofac-xml', entries, publishedAt }
}
