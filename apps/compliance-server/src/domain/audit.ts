import { createHash } from 'node:crypto'
import { open, readFile, type FileHandle } from 'node:fs/promises'
import canonicalize from 'canonicalize'

/** The hash the first line chains to. */
export const GENESIS = '0'.repeat(64)
const FORBIDDEN_KEYS = /^(token|access_token|authorization|bearer)$/i

export interface AuditLine<R = Record<string, unknown>> { seq: number, prevHash: string, hash: string, record: R }

function canonical (value: unknown): string {
  return canonicalize(value) as string
}

function lineHash (seq: number, prevHash: string, record: unknown): string {
  return createHash('sha256').update(canonical({ seq, prevHash, record })).digest('hex')
}

function assertNoSecrets (value: unknown, path = 'record'): void {
  if (typeof value !== 'object' || value === null) return
  for (const [k, v] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.test(k)) throw new Error(`audit records must not carry credentials (${path}.${k})`)
    assertNoSecrets(v, `${path}.${k}`)
  }
}

/** SHA-256 of the canonical JSON (RFC 8785) of a value. */
export function sha256Of (value: unknown): string {
  return createHash('sha256').update(canonical(value ?? null)).digest('hex')
}

/**
 * An append-only NDJSON audit log; each line is hash-chained to the one before
 * (`hash = sha256(JCS({ seq, prevHash, record }))`). Appends are serialised and each resolves only
 * after its line is written and flushed to disk.
 */
export class AuditLog {
  readonly file: string
  #fh: FileHandle
  #seq: number
  #prev: string
  #chain: Promise<unknown> = Promise.resolve()

  private constructor (file: string, fh: FileHandle, seq: number, prev: string) {
    this.file = file
    this.#fh = fh
    this.#seq = seq
    this.#prev = prev
  }

  /** Opens (or creates) a log and continues its chain. */
  static async open (file: string): Promise<AuditLog> {
    let seq = 0
    let prev = GENESIS
    try {
      const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '')
      const last = lines[lines.length - 1]
      if (last !== undefined) {
        const parsed = JSON.parse(last) as AuditLine
        seq = parsed.seq
        prev = parsed.hash
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    return new AuditLog(file, await open(file, 'a'), seq, prev)
  }

  /** Appends a record; rejects (and leaves the chain unchanged) when it cannot be written. */
  async append<R extends Record<string, unknown>> (record: R): Promise<AuditLine<R>> {
    assertNoSecrets(record)
    const run = this.#chain.then(async () => {
      const seq = this.#seq + 1
      const hash = lineHash(seq, this.#prev, record)
      const line: AuditLine<R> = { seq, prevHash: this.#prev, hash, record }
      await this.#fh.appendFile(`${JSON.stringify(line)}\n`)
      await this.#fh.datasync()
      this.#seq = seq
      this.#prev = hash
      return line
    })
    this.#chain = run.catch(() => {})
    return await run
  }

  async close (): Promise<void> {
    await this.#chain
    await this.#fh.close()
  }
}

/** Checks a log's chain; names the first broken line (1-based). */
export async function verifyAuditFile (file: string): Promise<{ ok: true, lines: number } | { ok: false, line: number, reason: string }> {
  const lines = (await readFile(file, 'utf8')).split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  let prev = GENESIS
  for (let i = 0; i < lines.length; i++) {
    let parsed: AuditLine
    try {
      parsed = JSON.parse(lines[i] as string) as AuditLine
    } catch {
      return { ok: false, line: i + 1, reason: 'not valid JSON' }
    }
    if (parsed.seq !== i + 1) return { ok: false, line: i + 1, reason: `sequence ${String(parsed.seq)}, expected ${i + 1}` }
    if (parsed.prevHash !== prev) return { ok: false, line: i + 1, reason: 'prevHash does not match the previous line' }
    if (lineHash(parsed.seq, parsed.prevHash, parsed.record) !== parsed.hash) return { ok: false, line: i + 1, reason: 'hash does not match the line content' }
    prev = parsed.hash
  }
  return { ok: true, lines: lines.length }
}
