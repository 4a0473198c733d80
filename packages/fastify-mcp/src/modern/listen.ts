import type { FastifyReply } from 'fastify'
import type { Implementation, JSONRPCMessage, RequestId, SubscriptionFilter } from '@modelcontextprotocol/server'
import { SseConnection } from '../live/sse.js'
import { META } from './protocol.js'

const LIST_CHANGED: Record<string, keyof SubscriptionFilter> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged'
}

interface Listener {
  id: RequestId
  filter: SubscriptionFilter
  conn: SseConnection
  timer: NodeJS.Timeout | null
}

/**
 * The `subscriptions/listen` streams open on this instance (2026-07-28). Change notifications reach
 * every instance over the bus; each delivers them to its own streams whose filter asked for them,
 * tagged with the subscription id.
 */
export class Listeners {
  readonly #open = new Set<Listener>()
  readonly #serverInfo: Implementation
  readonly #keepAliveMs: number

  constructor (serverInfo: Implementation, keepAliveMs: number) {
    this.#serverInfo = serverInfo
    this.#keepAliveMs = keepAliveMs
  }

  get size (): number { return this.#open.size }

  /**
   * Opens the stream: the acknowledgement (the honoured part of the filter) first, then notifications.
   * It ends when the client goes away, at `endAt` (the token's expiry), or on shutdown.
   */
  open (reply: FastifyReply, id: RequestId, filter: SubscriptionFilter, endAt: number | null): void {
    const conn = new SseConnection(reply, {}, this.#keepAliveMs)
    const listener: Listener = { id, filter, conn, timer: null }
    conn.open()
    conn.event(null, { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { [META.subscriptionId]: id }, notifications: filter } })
    const empty = Object.keys(filter).length === 0
    if (empty) {
      this.#complete(listener)
      return
    }
    this.#open.add(listener)
    conn.onClose(() => {
      this.#open.delete(listener)
      if (listener.timer !== null) clearTimeout(listener.timer)
    })
    if (endAt !== null) {
      listener.timer = setTimeout(() => { this.#complete(listener) }, Math.max(0, endAt - Date.now()))
      listener.timer.unref()
    }
  }

  /** Delivers a list change, or a resource update for `uri`, to the streams that asked for it. */
  deliver (message: JSONRPCMessage, uri: string | null): void {
    const m = message as { method: string, params?: Record<string, unknown> }
    const kind = LIST_CHANGED[m.method]
    for (const l of this.#open) {
      if (kind !== undefined ? l.filter[kind] !== true : !matches(l.filter.resourceSubscriptions, uri)) continue
      const meta = { ...(m.params?._meta as Record<string, unknown> | undefined), [META.subscriptionId]: l.id }
      l.conn.event(null, { jsonrpc: '2.0', method: m.method, params: { ...m.params, _meta: meta } })
    }
  }

  /** Ends a stream the way the spec asks a server to: the listen request's result, then close. */
  #complete (l: Listener): void {
    l.conn.event(null, { jsonrpc: '2.0', id: l.id, result: { resultType: 'complete', _meta: { [META.subscriptionId]: l.id, [META.serverInfo]: this.#serverInfo } } })
    l.conn.end()
  }

  /** Shutdown: every stream gets its final result. */
  closeAll (): void {
    for (const l of [...this.#open]) this.#complete(l)
  }
}

/** A resource update reaches a subscription to the resource itself or to one it is part of. */
function matches (subscribed: string[] | undefined, uri: string | null): boolean {
  if (uri === null || subscribed === undefined) return false
  return subscribed.some((s) => s === uri || uri.startsWith(s.endsWith('/') ? s : `${s}/`))
}
