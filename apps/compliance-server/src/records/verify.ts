import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import { GENESIS, hashLine, type Checkpoint, type SigningKey } from './chain.js'

export interface VerifyResult {
  ok: boolean
  records: number
  firstSeq: number | null
  lastSeq: number
  /** The last record covered by a valid signed checkpoint (0: none). */
  anchoredThrough: number
  /** Records after the last checkpoint: chained, but not anchored. */
  unanchored: number
  checkpoints: number
  signaturesChecked: boolean
  broken?: { seq: number | null, line: number, reason: string }
}

const V1_KEYS = ['hash', 'prevHash', 'record', 'seq']

function v1Hash (seq: number, prevHash: string, record: unknown): string {
  return createHash('sha256').update(canonicalize({ seq, prevHash, record }) as string).digest('hex')
}

/**
 * Checks a chain line by line: v1 lines (the old NDJSON log, exactly four keys), v2 lines (the
 * records store: every key but `hash` is hashed) and signed checkpoint lines.
 */
export class ChainVerifier {
  readonly #key: SigningKey | null
  #line = 0
  #prev = GENESIS
  #expect = 1
  #records = 0
  #first: number | null = null
  #anchored = 0
  #checkpoints = 0
  #broken: VerifyResult['broken'] | undefined
  /**
   * Hashes of the records since the last anchor: a checkpoint signed after later records were
   * written (a follower file such as the AUDIT_LOG_FILE mirror) anchors the record it names.
   */
  readonly #recent = new Map<number, string>()

  constructor (key: SigningKey | null) {
    this.#key = key
  }

  get broken (): boolean { return this.#broken !== undefined }

  #fail (seq: number | null, reason: string): void {
    this.#broken ??= { seq, line: this.#line, reason }
  }

  feed (line: unknown): void {
    this.#line++
    if (this.#broken !== undefined) return
    if (typeof line !== 'object' || line === null) { this.#fail(null, 'not a JSON object'); return }
    const l = line as Record<string, unknown>
    if ('checkpoint' in l) { this.#checkpoint(l.checkpoint as Checkpoint); return }
    const seq = l.seq
    if (typeof seq !== 'number' || !Number.isInteger(seq)) { this.#fail(null, 'no sequence number'); return }
    if (this.#records === 0 && this.#first === null && seq !== 1 && this.#expect === 1) { this.#fail(seq, `sequence ${seq}, expected 1 (records missing before it, and no checkpoint anchors the start)`); return }
    if (seq !== this.#expect) { this.#fail(seq, `sequence ${seq}, expected ${this.#expect} (a record is missing or out of order)`); return }
    if (l.prevHash !== this.#prev) { this.#fail(seq, 'prevHash does not match the previous record'); return }
    if (l.v === undefined) {
      const keys = Object.keys(l).sort()
      if (keys.join() !== V1_KEYS.join()) { this.#fail(seq, `unexpected keys in a v1 line: ${keys.filter((k) => !V1_KEYS.includes(k)).join(', ')}`); return }
      if (v1Hash(seq, l.prevHash as string, l.record) !== l.hash) { this.#fail(seq, 'hash does not match the record'); return }
    } else if (l.v === 2) {
      if (hashLine(l) !== l.hash) { this.#fail(seq, 'hash does not match the record'); return }
    } else {
      this.#fail(seq, `unknown line format v${String(l.v)}`)
      return
    }
    this.#first ??= seq
    this.#records++
    if (l.v === 2) {
      this.#recent.set(seq, l.hash as string)
      if (this.#recent.size > 100_000) this.#recent.delete(this.#recent.keys().next().value as number)
    }
    this.#prev = l.hash as string
    this.#expect = seq + 1
  }

  #checkpoint (c: Checkpoint): void {
    if (typeof c?.seq !== 'number' || typeof c.hash !== 'string') { this.#fail(null, 'malformed checkpoint'); return }
    if (this.#key !== null && !this.#key.verify(c)) { this.#fail(c.seq, `checkpoint at ${c.seq} has an invalid signature (key ${c.keyId})`); return }
    if (this.#records === 0 && this.#first === null) {
      // The start of an export or of a purged chain: the checkpoint anchors what follows.
      this.#prev = c.hash
      this.#expect = c.seq + 1
    } else if (c.seq === this.#expect - 1 ? c.hash !== this.#prev : this.#recent.get(c.seq) !== c.hash || c.seq < this.#anchored) {
      this.#fail(c.seq, `checkpoint at ${c.seq} does not match the chain (record ${c.seq} changed, removed or reordered)`)
      return
    }
    this.#anchored = c.seq
    for (const seq of this.#recent.keys()) if (seq <= c.seq) this.#recent.delete(seq); else break
    this.#checkpoints++
  }

  /** A torn last line (a crash mid-write) is named, not fatal. */
  torn (text: string): void {
    this.#line++
    this.#fail(null, `torn last line (a partial write of ${text.length} bytes): not valid JSON`)
  }

  result (head?: { seq: number, hash: string }): VerifyResult {
    const lastSeq = this.#expect - 1
    if (head !== undefined && this.#broken === undefined) {
      if (head.seq > lastSeq) this.#fail(lastSeq + 1, `the chain head is at ${head.seq} but the last record is ${lastSeq}: records were deleted at the end`)
      else if (head.seq === lastSeq && head.hash !== this.#prev) this.#fail(lastSeq, 'the chain head hash does not match the last record')
    }
    return {
      ok: this.#broken === undefined,
      records: this.#records,
      firstSeq: this.#first,
      lastSeq,
      anchoredThrough: this.#anchored,
      unanchored: Math.max(0, lastSeq - this.#anchored),
      checkpoints: this.#checkpoints,
      signaturesChecked: this.#key !== null,
      ...(this.#broken === undefined ? {} : { broken: this.#broken })
    }
  }
}

/** Verifies NDJSON text (an old audit log or an export). */
export function verifyNdjson (text: string, key: SigningKey | null): VerifyResult {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const v = new ChainVerifier(key)
  for (let i = 0; i < lines.length; i++) {
    let parsed: unknown
    try {
      parsed = JSON.parse(lines[i] as string)
    } catch {
      if (i === lines.length - 1) v.torn(lines[i] as string)
      else v.feed(null)
      break
    }
    v.feed(parsed)
  }
  return v.result()
}

/** One line of `verify-audit` output. */
export function describe (r: VerifyResult, what: string): string {
  if (!r.ok) {
    const b = r.broken as NonNullable<VerifyResult['broken']>
    return `broken at ${b.seq === null ? `line ${b.line}` : `record ${b.seq} (line ${b.line})`}: ${b.reason}`
  }
  const anchor = r.checkpoints === 0
    ? `no signed checkpoint: all ${r.unanchored} record(s) are unanchored (chained, but a truncation would not show)`
    : `anchored by ${r.checkpoints} checkpoint(s) through record ${r.anchoredThrough}${r.signaturesChecked ? '' : ' (signatures NOT checked: no key)'}; ${r.unanchored} record(s) after the last checkpoint are unanchored`
  return `ok: ${r.records} ${what}, chain intact; ${anchor}`
}
