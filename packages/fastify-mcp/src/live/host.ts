import type { JSONRPCMessage, Server } from '@modelcontextprotocol/server'
import type { EventStore } from '../events/types.js'
import type { SseConnection } from './sse.js'
import type { SessionRecord } from '../session/types.js'

/** What a call and its exchange need of the instance: the event store and the stream registry. */
export interface StreamHost {
  readonly events: EventStore
  readonly retryMs: number
  readonly keepAliveMs: number
  readonly maxBufferedBytes: number
  attachStream: (sessionId: string | null, streamId: string, conn: SseConnection) => boolean
  detachStream: (sessionId: string | null, streamId: string, conn: SseConnection) => void
  emit: (sessionId: string, streamId: string, message: JSONRPCMessage, final: boolean) => Promise<void>
}

/** What a call in a session needs of it: the record (its log level) and the SDK server (input requests). */
export interface SessionHandle {
  record: SessionRecord
  server: Server
}
