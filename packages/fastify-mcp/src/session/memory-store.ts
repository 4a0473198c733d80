import { principalKey } from './principal.js'
import type { SessionRecord, SessionStore } from './types.js'

/** In-process session store with idle expiry (a sweep plus a check on every read). */
export class MemorySessionStore implements SessionStore {
  readonly #records = new Map<string, SessionRecord>()
  readonly #byPrincipal = new Map<string, Set<string>>()
  #idleTimeoutMs = 30 * 60_000
  #onExpired: (id: string, record?: SessionRecord) => void = () => {}
  #timer: NodeJS.Timeout | null = null

  init (options: { idleTimeoutMs: number, onExpired: (id: string, record?: SessionRecord) => void }): void {
    this.#idleTimeoutMs = options.idleTimeoutMs
    this.#onExpired = options.onExpired
    const every = Math.max(250, Math.min(Math.floor(options.idleTimeoutMs / 2), 60_000))
    this.#timer = setInterval(() => { this.#sweep() }, every)
    this.#timer.unref()
  }

  #expired (r: SessionRecord, now: number): boolean {
    return now - r.lastSeenAt > this.#idleTimeoutMs
  }

  #sweep (): void {
    const now = Date.now()
    for (const r of this.#records.values()) {
      if (this.#expired(r, now)) {
        this.#remove(r.id)
        this.#onExpired(r.id, r)
      }
    }
  }

  #remove (id: string): boolean {
    const r = this.#records.get(id)
    if (r === undefined) return false
    this.#records.delete(id)
    const key = principalKey(r.principal)
    if (key !== null) {
      const ids = this.#byPrincipal.get(key)
      ids?.delete(id)
      if (ids?.size === 0) this.#byPrincipal.delete(key)
    }
    return true
  }

  async create (record: SessionRecord, limit: number, perPrincipal?: number): Promise<boolean | 'principal'> {
    if (this.#records.size >= limit) this.#sweep()
    if (this.#records.size >= limit) return false
    const key = principalKey(record.principal)
    let ids: Set<string> | undefined
    if (key !== null) {
      ids = this.#byPrincipal.get(key)
      if (perPrincipal !== undefined && ids !== undefined && ids.size >= perPrincipal) {
        this.#sweep()
        if (ids.size >= perPrincipal) return 'principal'
      }
      if (ids === undefined) {
        ids = new Set()
        this.#byPrincipal.set(key, ids)
      }
      ids.add(record.id)
    }
    this.#records.set(record.id, record)
    return true
  }

  async get (id: string, touch = false): Promise<SessionRecord | null> {
    const r = this.#records.get(id)
    if (r === undefined) return null
    const now = Date.now()
    if (this.#expired(r, now)) {
      this.#remove(id)
      this.#onExpired(id)
      return null
    }
    if (touch) r.lastSeenAt = now
    return r
  }

  async touch (id: string): Promise<boolean> {
    const r = this.#records.get(id)
    if (r === undefined) return false
    r.lastSeenAt = Date.now()
    return true
  }

  async update (id: string, patch: Partial<Pick<SessionRecord, 'logLevel' | 'subscriptions'>>): Promise<void> {
    const r = this.#records.get(id)
    if (r !== undefined) Object.assign(r, patch)
  }

  async delete (id: string): Promise<boolean> {
    for (const key of this.#claims.keys()) if (key.startsWith(`${id}/`)) this.#claims.delete(key)
    return this.#remove(id)
  }

  readonly #claims = new Map<string, { holder: string, until: number }>()

  async claimStream (sessionId: string, streamId: string, holder: string, ttlMs: number): Promise<boolean> {
    const key = `${sessionId}/${streamId}`
    const now = Date.now()
    const current = this.#claims.get(key)
    if (current !== undefined && current.holder !== holder && current.until > now) return false
    this.#claims.set(key, { holder, until: now + ttlMs })
    return true
  }

  async releaseStream (sessionId: string, streamId: string, holder: string): Promise<void> {
    const key = `${sessionId}/${streamId}`
    if (this.#claims.get(key)?.holder === holder) this.#claims.delete(key)
  }

  async count (): Promise<number> {
    return this.#records.size
  }

  async list (limit = 1000): Promise<SessionRecord[]> {
    return [...this.#records.values()].slice(0, limit)
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#records.clear()
    this.#byPrincipal.clear()
    this.#claims.clear()
  }
}
