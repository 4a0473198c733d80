/** Sanctions list entries, as loaded from the official files. */
export type EntryType = 'individual' | 'entity' | 'vessel' | 'aircraft'
export type NameKind = 'primary' | 'aka' | 'fka' | 'nka' | 'weak' | 'original_script'

export interface SanctionsEntry {
  /** `OFAC-SDN` or `UN`. */
  source: string
  /** The list's own id: OFAC `ent_num`, UN `REFERENCE_NUMBER`. */
  id: string
  name: string
  type: EntryType
  programs: string[]
  /** Countries named by nationality, citizenship or address. */
  countries: string[]
  /** `YYYY-MM-DD`, or `YYYY` when only the year is known. */
  birthDates: string[]
  aliases: Array<{ name: string, kind: NameKind }>
  identifiers: Array<{ kind: string, value: string }>
  /** Nationalities and citizenships, when the list tells them apart from other country links. */
  nationalities?: string[]
  remarks?: string
}

/** A loaded list file, named in every answer so that nobody mistakes old data for today's. */
export interface DatasetInfo {
  /** The configured source (`SANCTIONS_SOURCES` id) this dataset was read from. */
  sourceId: string
  source: string
  /** The format it was read as (`ofac-csv`, `un-xml`, …). */
  format: string
  file: string
  /** The publication date the list itself states (YYYY-MM-DD), or `null` where its format carries none. Never a file time. */
  publishedAt: string | null
  /** Kept for compatibility: `publishedAt` when known, absent otherwise. */
  fileDate?: string
  /** When this version was fetched or read. */
  fetchedAt: string
  sha256: string
  records: number
  /** What the file is, when it is not simply the official list (e.g. a sample). */
  note?: string
}
