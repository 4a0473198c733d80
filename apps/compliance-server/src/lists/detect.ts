import type { ConcreteFormat, ListFile, ReadResult } from './types.js'
import { DataError } from './errors.js'
import { readEuFsfXml } from './readers/eu-fsf-xml.js'
import { readOfacAdvancedXml } from './readers/ofac-advanced-xml.js'
import { OFAC_CSV_FILES, readOfacCsv } from './readers/ofac-csv.js'
import { readOfacXml } from './readers/ofac-xml.js'
import { readUkXml } from './readers/uk-xml.js'
import { readUnXml } from './readers/un-xml.js'

const ROOTS: Record<string, ConcreteFormat> = {
  sdnList: 'ofac-xml',
  Sanctions: 'ofac-advanced-xml',
  CONSOLIDATED_LIST: 'un-xml',
  export: 'eu-fsf-xml',
  Designations: 'uk-xml'
}

/** The format of a file, from its first bytes (the root element of XML, the shape of an OFAC CSV row); `null` if none fits. */
export function detectFormat (bytes: Buffer): ConcreteFormat | null {
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe
  const head = new TextDecoder(utf16 ? 'utf-16le' : 'utf-8').decode(bytes.subarray(0, 64 * 1024))
  const body = head.replace(/^\uFEFF/, '').replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>/g, '').trimStart()
  const root = /^<(?:[\w.-]+:)?([\w.-]+)[\s>/]/.exec(body)
  if (root !== null) return ROOTS[root[1] as string] ?? null
  if (/^\d+,"[^"]*",("[^"]*"|-0- ?),/.test(body)) return 'ofac-csv'
  return null
}

export const FORMAT_NAMES: Record<ConcreteFormat, string> = {
  'ofac-csv': 'the OFAC legacy CSV set',
  'ofac-xml': 'the OFAC SDN XML',
  'ofac-advanced-xml': 'the OFAC Advanced XML',
  'un-xml': 'the UN consolidated list XML',
  'eu-fsf-xml': 'the EU Financial Sanctions Files XML',
  'uk-xml': 'the UK Sanctions List XML'
}

/**
 * Reads the files of one source as `format` (or the detected one): a set of OFAC CSV files, or one XML file.
 * A file whose content is not the expected format is refused with a {@link DataError} naming it.
 */
export async function readFiles (files: ListFile[], format: ConcreteFormat | 'auto'): Promise<ReadResult[]> {
  const first = files[0]
  if (first === undefined) throw new DataError('no file to read')
  const csv = files.some((f) => OFAC_CSV_FILES.includes(f.name.toLowerCase()))
  const detected = csv && files.length > 1 ? 'ofac-csv' : detectFormat(first.bytes)
  const want = format === 'auto' ? detected : format
  if (want === null) throw new DataError(`${first.name}: not a sanctions list this service reads; expected one of ${Object.values(FORMAT_NAMES).join(', ')}`)
  if (format !== 'auto' && detected !== format) {
    throw new DataError(`${first.name}: expected ${FORMAT_NAMES[format]}, but the content is ${detected === null ? 'not a known list format' : FORMAT_NAMES[detected]}`)
  }
  switch (want) {
    case 'ofac-csv': return await readOfacCsv(files)
    case 'ofac-xml': return [await readOfacXml(first)]
    case 'ofac-advanced-xml': return [await readOfacAdvancedXml(first)]
    case 'un-xml': return [await readUnXml(first)]
    case 'eu-fsf-xml': return [await readEuFsfXml(first)]
    case 'uk-xml': return [await readUkXml(first)]
  }
}
