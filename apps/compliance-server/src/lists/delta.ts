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
  const steps = diffSteps(previous, current)
  let r = steps.next()
  while (r.done !== true) r = steps.next()
  return r.value
}

/** The same delta, computed in slices of about `sliceMs` with the event loop free between them (a refresh of a large list). */
export async function diffEntriesSliced (previous: readonly SanctionsEntry[], current: readonly SanctionsEntry[], sliceMs = 4): Promise<EntryDelta> {
  const steps = diffSteps(previous, current)
  let since = performance.now()
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done === true) return r.value
    if (performance.now() - since < sliceMs) continue
    await new Promise((resolve) => setImmediate(resolve))
    since = performance.now()
  }
}

function * diffSteps (previous: readonly SanctionsEntry[], current: readonly SanctionsEntry[]): Generator<void, EntryDelta> {
  const before = new Map(previous.map((e) => [key(e), e]))
  yield
  const added: SanctionsEntry[] = []
  const changed: SanctionsEntry[] = []
  const changedBefore: SanctionsEntry[] = []
  for (const e of current) {
    const old = before.get(key(e))
    if (old === undefined) added.push(e)
    else if (JSON.stringify(old) !== JSON.stringify(e)) { changed.push(e); changedBefore.push(old) }
    before.delete(key(e))
    yield
  }
  return { added, changed, changedBefore, removed: [...before.values()] }
}
