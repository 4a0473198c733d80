import type { FastifyRequest } from 'fastify'
import { FST_MCP_RATE_LIMITED } from '../errors.js'
import { principalKey, principalOf } from '../session/principal.js'

/** The rate-limit key: the verified principal, else the client address. */
export function rateKey (request: FastifyRequest): string {
  const person = principalKey(principalOf(request.mcpAuth))
  return person !== null ? `sub:${person}` : `ip:${request.ip}`
}

interface Window { current: number, start: number, ttl: number }

/**
 * The counter behind `@fastify/rate-limit` on the MCP routes (given to it as its store), shared with the
 * POST handler so that every further message of a batch costs one more request. Fixed windows, at
 * most `cache` keys (the oldest is dropped).
 */
export class RateCounter {
  readonly #windows = new Map<string, Window>()
  readonly #cache: number
  readonly max: number
  #windowMs: number

  constructor (max: number, windowMs: number, cache = 10_000) {
    this.max = max
    this.#windowMs = windowMs
    this.#cache = cache
  }

  /** Adds `n` hits to `key`'s window. */
  hit (key: string, n: number, windowMs = this.#windowMs): Window {
    const now = Date.now()
    let w = this.#windows.get(key)
    if (w === undefined || w.start + windowMs <= now) {
      if (w === undefined && this.#windows.size >= this.#cache) {
        const oldest = this.#windows.keys().next().value
        if (oldest !== undefined) this.#windows.delete(oldest)
      }
      w = { current: 0, start: now, ttl: windowMs }
      this.#windows.delete(key)
      this.#windows.set(key, w)
    }
    w.current += n
    w.ttl = windowMs - (now - w.start)
    return w
  }

  /** The store contract of `@fastify/rate-limit`. */
  incr (key: string, cb: (err: Error | null, res: { current: number, ttl: number }) => void, timeWindow: number): void {
    this.#windowMs = timeWindow
    const w = this.hit(key, 1, timeWindow)
    cb(null, { current: w.current, ttl: w.ttl })
  }

  child (): RateCounter { return this }

  /** Counts the further messages of a batch; throws the 429 once the window is exhausted. */
  consume (request: FastifyRequest, n: number): void {
    const w = this.hit(rateKey(request), n)
    if (w.current <= this.max) return
    const seconds = Math.max(1, Math.ceil(w.ttl / 1000))
    throw Object.assign(new FST_MCP_RATE_LIMITED(seconds), { headers: { 'retry-after': String(seconds), 'x-ratelimit-remaining': '0' } })
  }
}
