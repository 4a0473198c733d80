import type { JSONRPCMessage } from '@modelcontextprotocol/server'

/** One stored SSE event. `message` is null for a priming event; `final` marks the last event of a request stream. */
export interface StoredEvent {
  id: string
  message: JSONRPCMessage | null
  final: boolean
}

/**
 * Keeps the events of SSE streams so that a client reconnecting with `Last-Event-ID` (to any instance)
 * gets what it missed on that stream, in order.
 * Event ids are `<streamId>_<seq>`, where seq is a dash-separated tuple of integers that grows within a stream.
 */
export interface EventStore {
  append: (sessionId: string, streamId: string, message: JSONRPCMessage | null, final: boolean) => Promise<string>
  /** Events after `lastEventId` on its stream; null when the id is unknown for this session. */
  replayAfter: (sessionId: string, lastEventId: string) => Promise<{ streamId: string, events: StoredEvent[] } | null>
  deleteSession: (sessionId: string) => Promise<void>
  close: () => Promise<void>
}

const EVENT_ID = /^([A-Za-z0-9]{1,64})_(\d{1,20}(?:-\d{1,20})?)$/

/** Splits an event id into stream id and sequence, or null when malformed. */
export function parseEventId (id: string): { streamId: string, seq: number[] } | null {
  const m = EVENT_ID.exec(id)
  if (m === null) return null
  return { streamId: m[1] as string, seq: (m[2] as string).split('-').map(Number) }
}

/** Orders two sequences of the same stream. */
export function compareSeq (a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
