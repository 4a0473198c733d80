import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import { parseEventId, type EventStore, type StoredEvent } from './types.js'

interface Stream { seq: number, events: StoredEvent[] }

/** In-process event store, bounded per stream (oldest events dropped first) and per session count of streams. */
export class MemoryEventStore implements EventStore {
  readonly #sessions = new Map<string, Map<string, Stream>>()
  readonly #maxEventsPerStream: number
  readonly #maxStreamsPerSession: number

  constructor (options: { maxEventsPerStream?: number, maxStreamsPerSession?: number } = {}) {
    this.#maxEventsPerStream = options.maxEventsPerStream ?? 1000
    this.#maxStreamsPerSession = options.maxStreamsPerSession ?? 100
  }

  async append (sessionId: string, streamId: string, message: JSONRPCMessage | null, final: boolean): Promise<string> {
    let streams = this.#sessions.get(sessionId)
    if (streams === undefined) {
      streams = new Map()
      this.#sessions.set(sessionId, streams)
    }
    let stream = streams.get(streamId)
    if (stream === undefined) {
      if (streams.size >= this.#maxStreamsPerSession) {
        const oldest = streams.keys().next().value
        if (oldest !== undefined) streams.delete(oldest)
      }
      stream = { seq: 0, events: [] }
      streams.set(streamId, stream)
    }
    const id = `${streamId}_${++stream.seq}`
    stream.events.push({ id, message, final })
    if (stream.events.length > this.#maxEventsPerStream) stream.events.shift()
    return id
  }

  async replayAfter (sessionId: string, lastEventId: string): Promise<{ streamId: string, events: StoredEvent[] } | null> {
    const parsed = parseEventId(lastEventId)
    if (parsed === null) return null
    const stream = this.#sessions.get(sessionId)?.get(parsed.streamId)
    const seq = parsed.seq[0] ?? 0
    if (stream === undefined || parsed.seq.length !== 1 || seq > stream.seq) return null
    return { streamId: parsed.streamId, events: stream.events.filter((e) => Number(e.id.slice(parsed.streamId.length + 1)) > seq) }
  }

  async deleteSession (sessionId: string): Promise<void> {
    this.#sessions.delete(sessionId)
  }

  async close (): Promise<void> {
    this.#sessions.clear()
  }
}
