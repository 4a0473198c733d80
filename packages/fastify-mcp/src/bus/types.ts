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
  /**
   * The session was deleted or expired: drop its live state. With `from` and `ack`, each receiver answers
   * with a `closed-ack`, so that the instance ending the session knows every cache let go of it.
   */
  | { kind: 'closed', sessionId: string, from?: string, ack?: string }
  /** A receiver of a `closed` message dropped the session. */
  | { kind: 'closed-ack', to: string, ack: string }

/** Carries {@link BusMessage}s between instances. Publishers also receive their own messages. */
export interface McpBus {
  /**
   * Sends a message to every subscriber (this instance included). Resolves to the number of subscribers
   * it reached when the bus knows it (Redis `PUBLISH` answers it); {@link BusMessage} `closed` waits for
   * that many acknowledgements.
   */
  publish: (message: BusMessage) => Promise<number | undefined>
  /** Registers a handler; resolves to a function that removes it. */
  subscribe: (handler: (message: BusMessage) => void) => Promise<() => Promise<void>>
  close: () => Promise<void>
}
