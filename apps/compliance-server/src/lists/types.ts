import type { SanctionsEntry } from '../domain/types.js'

export const LIST_FORMATS = ['auto', 'ofac-csv', 'ofac-xml', 'ofac-advanced-xml', 'un-xml', 'eu-fsf-xml', 'uk-xml'] as const
export type ListFormat = typeof LIST_FORMATS[number]
export type ConcreteFormat = Exclude<ListFormat, 'auto'>

/** One configured list: a file or folder (`path`) or a download (`url`). */
export interface SourceConfig {
  id: string
  format: ListFormat
  url?: string
  path?: string
}

/** A list file, as read: its entries and the date the list itself states (or `null`). */
export interface ReadResult {
  /** The `source` the entries carry (`OFAC-SDN`, `UN`, …). */
  source: string
  format: ConcreteFormat
  entries: SanctionsEntry[]
  publishedAt: string | null
}

/** A file's bytes as fetched or read from disk. */
export interface ListFile {
  name: string
  bytes: Buffer
}
