import type { EntryType, NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { children, isoDay, streamXml } from '../xml.js'
import { uniq } from './ofac-common.js'

const SUBJECT: Record<string, EntryType> = { person: 'individual', enterprise: 'entity', vessel: 'vessel', aircraft: 'aircraft' }

/**
 * The EU Financial Sanctions Files consolidated list, XML (schema 1.1,
 * https://webgate.ec.europa.eu/fsd/fsf): `sanctionEntity` elements whose facts are attributes;
 * `generationDate` on the root is the publication date.
 */
export async function readEuFsfXml (file: ListFile): Promise<ReadResult> {
  const entries: SanctionsEntry[] = []
  let publishedAt: string | null = null
  await streamXml(file.bytes, {
    file: file.name,
    root: 'export',
    expected: 'the EU Financial Sanctions Files XML',
    records: new Set(['sanctionEntity']),
    onRoot: (a) => { publishedAt = isoDay(a.generationDate) },
    onRecord: (n) => {
      const id = n.attrs.logicalId ?? n.attrs.euReferenceNumber
      const names = children(n, 'nameAlias').map((a) => ({
        name: (a.attrs.wholeName ?? [a.attrs.firstName, a.attrs.middleName, a.attrs.lastName].filter((x) => x !== undefined && x !== '').join(' ')).trim(),
        strong: a.attrs.strong !== 'false'
      })).filter((a) => a.name !== '')
      const primary = names[0]
      if (id === undefined || primary === undefined) throw new DataError(`${file.name}: a sanctionEntity lacks a logicalId or a nameAlias`)
      const programs = uniq(children(n, 'regulation').map((r) => r.attrs.programme ?? '').filter((p) => p !== ''))
      const countries = [
        ...children(n, 'citizenship').map((c) => c.attrs.countryDescription ?? c.attrs.countryIso2Code),
        ...children(n, 'address').map((c) => c.attrs.countryDescription ?? c.attrs.countryIso2Code)
      ].filter((c): c is string => c !== undefined && c !== '' && c !== 'UNKNOWN' && c !== '00')
      const birthDates = children(n, 'birthdate').map((b) => b.attrs.birthdate ?? b.attrs.year).filter((d): d is string => d !== undefined && d !== '')
      const identifiers = children(n, 'identification').map((d) => ({ kind: (d.attrs.identificationTypeCode ?? 'document').toLowerCase(), value: d.attrs.number ?? '' }))
        .filter((d) => d.value !== '')
      const remarks = children(n, 'remark').map((r) => r.text.trim()).filter((r) => r !== '').join(' ')
      entries.push({
        source: 'EU',
        id,
        name: primary.name,
        type: SUBJECT[children(n, 'subjectType')[0]?.attrs.code ?? ''] ?? 'entity',
        programs,
        countries: uniq(countries),
        birthDates: uniq(birthDates),
        aliases: names.slice(1).filter((a) => a.name !== primary.name).map((a) => ({ name: a.name, kind: (a.strong ? 'aka' : 'weak') as NameKind })),
        identifiers,
        ...(remarks === '' ? {} : { remarks })
      })
    }
  })
  return { source: 'EU', format: 'eu-fsf-xml', entries, publishedAt }
}
