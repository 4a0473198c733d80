import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { lockFile } from './db.js'

/** The part of the records store a mirror follows. */
export interface ChainSource {
  head: () => Promise<{ seq: number, hash: string }>
  hashOf: (seq: number) => Promise<string | null>
  lines: () => AsyncGenerator<Record<string, unknown>>
  linesAfter: (afterSeq: number, afterCheckpoint: number) => AsyncGenerator<Record<string, unknown>>
}

/** How much of the file's end is read at start to find its last record (lines are a few KB). */
const TAIL_BYTES = 4 * 1024 * 1024

interface Tail { size: number, lastSeq: number, lastHash: string | null, lastCheckpoint: number, version: unknown, torn: { from: number, bytes: number } | null }

/** Reads the end of the file: its last record and checkpoint, and a torn last line (a crash mid-write) if there is one. */
async function readTail (fh: FileHandle, file: string): Promise<Tail> {
  const size = (await fh.stat()).size
  const start = Math.max(0, size - TAIL_BYTES)
  const buf = Buffer.alloc(size - start)
  if (buf.length > 0) await fh.read(buf, 0, buf.length, start)
  const text = buf.toString('utf8')
  let end = text.length
  let torn: Tail['torn'] = null
  // A last line without its newline, or one that is not JSON, is a partial write.
  const lastNl = text.lastIndexOf('\n')
  if (end > 0 && !text.endsWith('\n')) end = lastNl + 1
  const lines = text.slice(0, end).split('\n')
  lines.pop()
  if (lines.length > 0) {
    try { JSON.parse(lines[lines.length - 1] as string) } catch { end -= Buffer.byteLength(`${lines.pop() as string}\n`) }
  }
  const endByte = start + Buffer.byteLength(text.slice(0, end))
  if (endByte < size) torn = { from: endByte, bytes: size - endByte }
  let lastSeq = 0
  let lastHash: string | null = null
  let lastCheckpoint = 0
  let version: unknown = 2
  let found = false
  for (let i = lines.length - 1; i >= 0 && !found; i--) {
    let l: Record<string, unknown>
    try { l = JSON.parse(lines[i] as string) as Record<string, unknown> } catch { continue }
    const cp = l.checkpoint as { seq?: unknown } | undefined
    if (cp !== undefined && lastCheckpoint === 0 && typeof cp.seq === 'number') lastCheckpoint = cp.seq
    if (typeof l.seq === 'number') {
      lastSeq = l.seq
      lastHash = typeof l.hash === 'string' ? l.hash : null
      version = l.v
      found = true
    }
  }
  if (!found && lines.length > 0 && start > 0) throw new Error(`AUDIT_LOG_FILE ${file}: no record line in its last ${TAIL_BYTES} bytes; move the file away`)
  return { size, lastSeq, lastHash, lastCheckpoint, version, torn }
}

/**
 * The NDJSON file named by AUDIT_LOG_FILE, kept as a follower of the chain in the records store
 * (for log shippers and stdio deployments): after each commit, and every few seconds for the
 * records of other instances, the lines after its last one are appended and synced. It is never
 * the record itself (the store is), so a failed write is reported and retried, and a call is
 * never refused for it. On start a torn last line (a crash mid-write) is moved to
 * `<file>.torn-<time>` and the file continues from the store.
 */
export class AuditMirror {
  readonly file: string
  readonly #source: ChainSource
  readonly #fh: FileHandle
  readonly #unlock: () => Promise<void>
  readonly #onError: (err: unknown) => void
  readonly #timer: NodeJS.Timeout
  #size: number
  #lastSeq: number
  #lastCheckpoint: number
  #running: Promise<void> = Promise.resolve()
  #pending = false
  /** The torn tail moved away at start, if any. */
  readonly quarantined: string | null

  private constructor (file: string, source: ChainSource, fh: FileHandle, unlock: () => Promise<void>, tail: Tail, quarantined: string | null, o: { onError: (err: unknown) => void, intervalMs: number }) {
    this.file = file
    this.#source = source
    this.#fh = fh
    this.#unlock = unlock
    this.#size = tail.torn === null ? tail.size : tail.torn.from
    this.#lastSeq = tail.lastSeq
    this.#lastCheckpoint = tail.lastCheckpoint
    this.quarantined = quarantined
    this.#onError = o.onError
    this.#timer = setInterval(() => { void this.sync() }, o.intervalMs)
    this.#timer.unref()
  }

  static async open (file: string, source: ChainSource, o: { onError?: (err: unknown) => void, intervalMs?: number } = {}): Promise<AuditMirror> {
    await mkdir(dirname(file), { recursive: true })
    const unlock = await lockFile(`${file}.lock`, (pid) => new Error(`AUDIT_LOG_FILE ${file} is written by another compliance-server (pid ${pid}): give each instance its own file`))
    let fh: FileHandle | null = null
    try {
      fh = await open(file, 'a+', 0o640)
      const tail = await readTail(fh, file)
      if (tail.lastSeq > 0 && tail.version !== 2) throw new Error(`AUDIT_LOG_FILE ${file} is an audit log of an earlier version (v1 lines): keep it as it is (verify-audit ${file} checks it) and point AUDIT_LOG_FILE at a new file`)
      const head = await source.head()
      if (tail.lastSeq > head.seq) throw new Error(`AUDIT_LOG_FILE ${file} ends at record ${tail.lastSeq} but the records store's chain ends at ${head.seq}: the file follows another store; point AUDIT_LOG_FILE at a new file`)
      const stored = tail.lastSeq > 0 ? await source.hashOf(tail.lastSeq) : null
      if (stored !== null && stored !== tail.lastHash) throw new Error(`AUDIT_LOG_FILE ${file}: record ${tail.lastSeq} differs from the one in the records store: the file follows another store or was edited; point AUDIT_LOG_FILE at a new file`)
      let quarantined: string | null = null
      if (tail.torn !== null) {
        quarantined = `${file}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}`
        const part = Buffer.alloc(tail.torn.bytes)
        await fh.read(part, 0, part.length, tail.torn.from)
        await writeFile(quarantined, part, { mode: 0o640 })
        await fh.truncate(tail.torn.from)
        await fh.datasync()
      }
      const mirror = new AuditMirror(file, source, fh, unlock, tail, quarantined, { onError: o.onError ?? (() => {}), intervalMs: o.intervalMs ?? 5_000 })
      await mirror.sync()
      return mirror
    } catch (err) {
      await fh?.close()
      await unlock()
      throw err
    }
  }

  /** Appends what the store has beyond the file's last line (one sync at a time; a request during one runs after it). */
  async sync (): Promise<void> {
    if (this.#pending) return await this.#running
    this.#pending = true
    this.#running = this.#running.then(async () => {
      this.#pending = false
      await this.#sync()
    }).catch((err: unknown) => { this.#onError(err) })
    return await this.#running
  }

  async #sync (): Promise<void> {
    const lines = this.#lastSeq === 0 && this.#lastCheckpoint === 0 ? this.#source.lines() : this.#source.linesAfter(this.#lastSeq, this.#lastCheckpoint)
    let chunk = ''
    let seq = this.#lastSeq
    let checkpoint = this.#lastCheckpoint
    const flush = async (): Promise<void> => {
      if (chunk === '') return
      const bytes = Buffer.from(chunk)
      try {
        await this.#fh.write(bytes, 0, bytes.length, this.#size)
        await this.#fh.datasync()
      } catch (err) {
        // Nothing half-written stays behind: the next sync writes the same lines again.
        await this.#fh.truncate(this.#size).catch(() => {})
        throw err
      }
      this.#size += bytes.length
      this.#lastSeq = seq
      this.#lastCheckpoint = checkpoint
      chunk = ''
    }
    for await (const line of lines) {
      const cp = line.checkpoint as { seq: number } | undefined
      if (cp !== undefined) checkpoint = Math.max(checkpoint, cp.seq)
      else seq = line.seq as number
      chunk += `${JSON.stringify(line)}\n`
      if (chunk.length >= 1 << 20) await flush()
    }
    await flush()
  }

  /** The last sync, then the file is closed and its lock released. */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.sync()
    await this.#fh.close()
    await this.#unlock()
  }
}

