import type { SanctionsEntry } from '../domain/types.js'

export interface EntryDelta {
  added: SanctionsEntry[]
  /** The new versions of entries whose content changed. */
  changed: SanctionsEntry[]
  /** The previous versions of the changed entries, in the same order. */
  changedBefore: SanctionsEntry[]
  removed: SanctionsEntry[]
}

const key = (e: SanctionsEntry): string => `${e.source}\u0000${e.id}`

/** What changed between two versions of a list, entries identified by source and id. */
export function diffEntries (previous: readonly SanctionsEntry[], current: readonly SanctionsEntry[]): EntryDelta {
  const before = new Map(previous.map((e) => [key(e), e]))
  const added: SanctionsEntry[] = []
  const changed: SanctionsEntry[] = []
  const changedBefore: SanctionsEntry[] = []
  for (const e of current) {
    const old = before.get(key(e))
    if (old === undefined) added.push(e)
    else if (JSON.stringify(old) !== JSON.stringify(e)) { changed.push(e); changedBefore.push(old) }
    before.delete(key(e))
  }
  return { added, changed, changedBefore, removed: [...before.values()] }
}
