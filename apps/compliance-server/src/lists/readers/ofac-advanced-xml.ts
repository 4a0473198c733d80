import type { EntryType, NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { child, children, descendants, streamXml, textOf, type XmlNode } from '../xml.js'
import { ofacIdentifier, uniq } from './ofac-common.js'

const REFERENCE_SETS = ['PartySubType', 'PartyType', 'AliasType', 'FeatureType', 'NamePartType', 'IDRegDocType', 'SanctionsType', 'Country', 'List']
const pad = (n: string | null): string => (n ?? '').padStart(2, '0')

/** The date of a `<From>` or `<Date>` node: `YYYY-MM-DD`, or `YYYY` when the day is not fixed. */
function ymd (n: XmlNode | undefined): string | null {
  const y = textOf(n, 'Year')
  if (y === null) return null
  const m = textOf(n, 'Month')
  const d = textOf(n, 'Day')
  return m === null || d === null ? y : `${y}-${pad(m)}-${pad(d)}`
}

/**
 * OFAC's Advanced XML (`SDN_ADVANCED.XML`, `CONS_ADVANCED.XML`; schema `ADVANCED_XML.xsd`): reference
 * value sets, distinct parties with their identities, aliases and features (birth dates, places),
 * identity documents and sanctions entries (programs); `DateOfIssue` is the publication date.
 */
export async function readOfacAdvancedXml (file: ListFile): Promise<ReadResult> {
  const ref = new Map<string, Map<string, XmlNode>>(REFERENCE_SETS.map((s) => [s, new Map()]))
  const parties: XmlNode[] = []
  const documents: XmlNode[] = []
  const sanctions: XmlNode[] = []
  const locations = new Map<string, XmlNode>()
  let publishedAt: string | null = null
  await streamXml(file.bytes, {
    file: file.name,
    root: 'Sanctions',
    expected: 'the OFAC Advanced XML (ADVANCED_XML.xsd)',
    records: new Set(['DateOfIssue', ...REFERENCE_SETS, 'Location', 'DistinctParty', 'IDRegDocument', 'SanctionsEntry']),
    onRecord: (n) => {
      switch (n.name) {
        case 'DateOfIssue': publishedAt = ymd(n); break
        case 'Location': locations.set(n.attrs.ID ?? '', n); break
        case 'DistinctParty': parties.push(n); break
        case 'IDRegDocument': documents.push(n); break
        case 'SanctionsEntry': sanctions.push(n); break
        default: ref.get(n.name)?.set(n.attrs.ID ?? '', n)
      }
    }
  })
  if (publishedAt !== null && (publishedAt as string).length === 4) publishedAt = null
  const refName = (set: string, id: string | undefined): string | null => textOf(ref.get(set)?.get(id ?? ''))
  const source = /cons/i.test(file.name) ? 'OFAC-CONS' : 'OFAC-SDN'
  const byProfile = new Map<string, SanctionsEntry>()
  const byIdentity = new Map<string, SanctionsEntry>()
  const countryOf = (locationId: string | undefined): string | null => {
    const loc = locations.get(locationId ?? '')
    return loc === undefined ? null : refName('Country', child(loc, 'LocationCountry')?.attrs.CountryID)
  }
  for (const party of parties) {
    const profile = child(party, 'Profile')
    const id = profile?.attrs.ID
    if (profile === undefined || id === undefined) throw new DataError(`${file.name}: a DistinctParty lacks a Profile ID`)
    const sub = ref.get('PartySubType')?.get(profile.attrs.PartySubTypeID ?? '')
    const subName = textOf(sub)?.toLowerCase()
    const partyType = refName('PartyType', sub?.attrs.PartyTypeID)?.toLowerCase()
    const type: EntryType = subName === 'vessel' || subName === 'aircraft' ? subName : partyType === 'individual' ? 'individual' : 'entity'
    let name: string | null = null
    const aliases: Array<{ name: string, kind: NameKind }> = []
    const entry: SanctionsEntry = { source, id, name: '', type, programs: [], countries: [], birthDates: [], aliases, identifiers: [] }
    for (const identity of children(profile, 'Identity')) {
      if (identity.attrs.ID !== undefined) byIdentity.set(identity.attrs.ID, entry)
      const partType = new Map(descendants(identity, 'NamePartGroup').map((g) => [g.attrs.ID ?? '', refName('NamePartType', g.attrs.NamePartTypeID) ?? '']))
      for (const alias of children(identity, 'Alias')) {
        const aliasType = refName('AliasType', alias.attrs.AliasTypeID)?.toLowerCase() ?? ''
        for (const doc of children(alias, 'DocumentedName')) {
          const parts = descendants(doc, 'NamePartValue').map((p) => ({ type: partType.get(p.attrs.NamePartGroupID ?? '') ?? '', value: textOf(p) }))
            .filter((p): p is { type: string, value: string } => p.value !== null)
          const last = parts.filter((p) => p.type === 'Last Name').map((p) => p.value).join(' ')
          const rest = parts.filter((p) => p.type !== 'Last Name').map((p) => p.value).join(' ')
          const full = last === '' ? rest : rest === '' ? last : `${last}, ${rest}`
          if (full === '') continue
          if (alias.attrs.Primary === 'true' && name === null) { name = full; continue }
          const kind: NameKind = alias.attrs.LowQuality === 'true' ? 'weak' : aliasType.startsWith('f.k.a') ? 'fka' : aliasType.startsWith('n.k.a') ? 'nka' : 'aka'
          aliases.push({ name: full, kind })
        }
      }
    }
    if (name === null) throw new DataError(`${file.name}: profile ${id} has no primary name`)
    entry.name = name
    for (const feature of children(profile, 'Feature')) {
      const featureType = refName('FeatureType', feature.attrs.FeatureTypeID) ?? ''
      for (const version of children(feature, 'FeatureVersion')) {
        if (/birth ?date/i.test(featureType)) {
          const from = descendants(version, 'From')[0]
          const d = ymd(from)
          if (d !== null) entry.birthDates.push(d)
        }
        for (const vl of children(version, 'VersionLocation')) {
          const c = countryOf(vl.attrs.LocationID)
          if (c !== null && /nationality|citizenship|location|address/i.test(featureType)) entry.countries.push(c)
        }
        if (/vessel imo|vessel registration/i.test(featureType)) {
          const v = textOf(child(version, 'VersionDetail'))
          if (v !== null) entry.identifiers.push({ kind: 'imo', value: v.replace(/^IMO\s*/, '') })
        }
      }
    }
    entry.countries = uniq(entry.countries)
    entry.birthDates = uniq(entry.birthDates)
    byProfile.set(id, entry)
  }
  for (const doc of documents) {
    const entry = byIdentity.get(doc.attrs.IdentityID ?? '')
    const number = textOf(doc, 'IDRegistrationNo')
    if (entry === undefined || number === null) continue
    entry.identifiers.push(ofacIdentifier(refName('IDRegDocType', doc.attrs.IDRegDocTypeID) ?? 'document', number))
  }
  for (const s of sanctions) {
    const entry = byProfile.get(s.attrs.ProfileID ?? '')
    if (entry === undefined) continue
    for (const m of children(s, 'SanctionsMeasure')) {
      if (refName('SanctionsType', m.attrs.SanctionsTypeID) !== 'Program') continue
      const p = textOf(m, 'Comment')
      if (p !== null && !entry.programs.includes(p)) entry.programs.push(p)
    }
  }
  return { source, format: 'ofac-advanced-xml', entries: [...byProfile.values()], publishedAt }
}
