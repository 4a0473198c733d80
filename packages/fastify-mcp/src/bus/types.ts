import type { JSONRPCMessage } from '@modelcontextprotocol/server'

/** Messages instances exchange so that any instance can serve any session. */
export type BusMessage =
  /** An SSE event for whichever instance holds the connection of that stream. */
  | { kind: 'event', sessionId: string, streamId: string, eventId: string, message: JSONRPCMessage | null, final: boolean }
  /** A client's answer to a server-to-client request that `instanceId` sent. */
  | { kind: 'response', instanceId: string, sessionId: string, message: JSONRPCMessage }
  /** A client notification (e.g. `notifications/cancelled`) for whichever instance runs the request it names. */
  | { kind: 'notification', sessionId: string, message: JSONRPCMessage }
  /** A notification for every session's standalone stream (list changes), or for sessions subscribed to `uri`. */
  | { kind: 'broadcast', message: JSONRPCMessage, uri: string | null }
  /** The session was deleted or expired: drop its live state. */
  | { kind: 'closed', sessionId: string }

/** Carries {@link BusMessage}s between instances. Publishers also receive their own messages. */
export interface McpBus {
  publish: (message: BusMessage) => Promise<void>
  /** Registers a handler; resolves to a function that removes it. */
  subscribe: (handler: (message: BusMessage) => void) => Promise<() => Promise<void>>
  close: () => Promise<void>
}
