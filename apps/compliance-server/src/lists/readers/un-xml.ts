import type { EntryType, NameKind, SanctionsEntry } from '../../domain/types.js'
import { DataError } from '../errors.js'
import type { ListFile, ReadResult } from '../types.js'
import { children, isoDay, streamXml, textOf, type XmlNode } from '../xml.js'
import { uniq } from './ofac-common.js'

/** The UN Security Council consolidated list (https://scsanctions.un.org/resources/xml/en/consolidated.xml). */
export async function readUnXml (file: ListFile): Promise<ReadResult> {
  const entries: SanctionsEntry[] = []
  let publishedAt: string | null = null
  const read = (node: XmlNode, type: EntryType, aliasKey: string, addressKey: string): void => {
    const name = ['FIRST_NAME', 'SECOND_NAME', 'THIRD_NAME', 'FOURTH_NAME'].map((k) => textOf(node, k)).filter((x) => x !== null).join(' ')
    const id = textOf(node, 'REFERENCE_NUMBER')
    if (id === null || name === '') throw new DataError(`${file.name}: an entry lacks REFERENCE_NUMBER or a name (DATAID ${String(textOf(node, 'DATAID'))})`)
    const aliases = children(node, aliasKey).map((a) => ({ name: textOf(a, 'ALIAS_NAME'), kind: (textOf(a, 'QUALITY') === 'Low' ? 'weak' : 'aka') as NameKind }))
      .filter((a): a is { name: string, kind: NameKind } => a.name !== null)
    const original = textOf(node, 'NAME_ORIGINAL_SCRIPT')
    if (original !== null) aliases.push({ name: original, kind: 'aka' })
    const countries = [
      ...children(node, 'NATIONALITY').flatMap((n) => children(n, 'VALUE').map((v) => textOf(v))),
      ...children(node, addressKey).map((a) => textOf(a, 'COUNTRY'))
    ].filter((c): c is string => c !== null)
    const birthDates = children(node, 'INDIVIDUAL_DATE_OF_BIRTH').map((d) => textOf(d, 'DATE') ?? textOf(d, 'YEAR') ?? textOf(d, 'FROM_YEAR')).filter((d): d is string => d !== null)
    const identifiers = children(node, 'INDIVIDUAL_DOCUMENT').map((d) => ({ kind: (textOf(d, 'TYPE_OF_DOCUMENT') ?? 'document').toLowerCase(), value: textOf(d, 'NUMBER') }))
      .filter((d): d is { kind: string, value: string } => d.value !== null)
    const remarks = textOf(node, 'COMMENTS1')
    entries.push({
      source: 'UN',
      id,
      name,
      type,
      programs: [textOf(node, 'UN_LIST_TYPE') ?? 'UN'],
      countries: uniq(countries),
      birthDates,
      aliases,
      identifiers,
      ...(remarks === null ? {} : { remarks })
    })
  }
  await streamXml(file.bytes, {
    file: file.name,
    root: 'CONSOLIDATED_LIST',
    expected: 'the UN consolidated list XML',
    records: new Set(['INDIVIDUAL', 'ENTITY']),
    onRoot: (a) => { publishedAt = isoDay(a.dateGenerated) },
    onRecord: (n) => {
      if (n.name === 'INDIVIDUAL') read(n, 'individual', 'INDIVIDUAL_ALIAS', 'INDIVIDUAL_ADDRESS')
      else read(n, 'entity', 'ENTITY_ALIAS', 'ENTITY_ADDRESS')
    }
  })
  return { source: 'UN', format: 'un-xml', entries, publishedAt }
}
