import createError from '@fastify/error'
import { ProtocolError, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/server'

/** JSON-RPC error codes used on the wire. */
export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SERVER_ERROR: -32000,
  SESSION_NOT_FOUND: -32001,
  FORBIDDEN: -32003,
  UNAUTHORIZED: -32004,
  RATE_LIMITED: -32005,
  UNAVAILABLE: -32006,
  // 2026-07-28 codes (the spec reserves -32020..-32099 for its own)
  HEADER_MISMATCH: -32020,
  MISSING_CLIENT_CAPABILITY: -32021,
  UNSUPPORTED_PROTOCOL_VERSION: -32022
} as const

/** The JSON-RPC error response for a failed request: a protocol error as it is, anything else as -32603 without detail. */
export function errorResponse (id: RequestId, err: unknown): JSONRPCMessage {
  const code = err instanceof ProtocolError ? err.code : RPC.INTERNAL_ERROR
  const message = err instanceof ProtocolError ? err.message : 'Internal error'
  const data = err instanceof ProtocolError ? err.data : undefined
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } }
}

/** The JSON-RPC code of each error, from its definition. */
const RPC_CODES = new Map<string, number>()

/**
 * Defines a plugin error once: its code, message, HTTP status and the JSON-RPC code of the error
 * object in its body (a throw site adds only what varies: data, the request id).
 */
function define (code: string, message: string, status: number, rpcCode: number): ReturnType<typeof createError> {
  RPC_CODES.set(code, rpcCode)
  return createError(code, message, status)
}

/** The JSON-RPC code an HTTP error answers with: set at the throw site, else its definition's; -32000 for others (429 from the rate limiter: -32005). */
export function rpcCodeOf (err: { code?: string, statusCode?: number, rpcCode?: number }): number {
  return err.rpcCode ?? (err.code === undefined ? undefined : RPC_CODES.get(err.code)) ?? (err.statusCode === 429 ? RPC.RATE_LIMITED : RPC.SERVER_ERROR)
}

export const FST_MCP_BAD_ORIGIN = define('FST_MCP_BAD_ORIGIN', 'Forbidden: Origin %s is not allowed', 403, RPC.SERVER_ERROR)
export const FST_MCP_UNAUTHENTICATED_ENDPOINT = define('FST_MCP_UNAUTHENTICATED_ENDPOINT', 'Forbidden: %s has no authentication and is served only on loopback addresses, not on %s (configure "auth", or set "allowUnauthenticated: true" if another layer authenticates)', 403, RPC.SERVER_ERROR)
export const FST_MCP_BAD_HOST = define('FST_MCP_BAD_HOST', 'Forbidden: Host %s is not allowed', 403, RPC.SERVER_ERROR)
export const FST_MCP_NOT_ACCEPTABLE = define('FST_MCP_NOT_ACCEPTABLE', 'Not Acceptable: Accept must include %s', 406, RPC.SERVER_ERROR)
export const FST_MCP_UNSUPPORTED_MEDIA_TYPE = define('FST_MCP_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: Content-Type must be application/json', 415, RPC.SERVER_ERROR)
export const FST_MCP_PARSE_ERROR = define('FST_MCP_PARSE_ERROR', 'Parse error: %s', 400, RPC.PARSE_ERROR)
export const FST_MCP_INVALID_REQUEST = define('FST_MCP_INVALID_REQUEST', 'Invalid Request: %s', 400, RPC.INVALID_REQUEST)
export const FST_MCP_BODY_TOO_LARGE = define('FST_MCP_BODY_TOO_LARGE', 'Payload Too Large: the body exceeds %s bytes', 413, RPC.SERVER_ERROR)
export const FST_MCP_SESSION_REQUIRED = define('FST_MCP_SESSION_REQUIRED', 'Bad Request: Mcp-Session-Id header is required', 400, RPC.SERVER_ERROR)
export const FST_MCP_SESSION_NOT_FOUND = define('FST_MCP_SESSION_NOT_FOUND', 'Session not found', 404, RPC.SESSION_NOT_FOUND)
export const FST_MCP_ALREADY_INITIALIZED = define('FST_MCP_ALREADY_INITIALIZED', 'Invalid Request: initialize must not carry a session id', 400, RPC.INVALID_REQUEST)
export const FST_MCP_BAD_PROTOCOL_VERSION = define('FST_MCP_BAD_PROTOCOL_VERSION', 'Bad Request: Unsupported protocol version: %s (supported versions: %s)', 400, RPC.SERVER_ERROR)
export const FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS = define('FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS', 'Too Many Requests: this principal holds %s sessions, the most allowed; close one (DELETE) or retry later', 429, RPC.RATE_LIMITED)
export const FST_MCP_RATE_LIMITED = define('FST_MCP_RATE_LIMITED', 'Too Many Requests: retry in %s s', 429, RPC.RATE_LIMITED)
export const FST_MCP_AMBIGUOUS_HOST = define('FST_MCP_AMBIGUOUS_HOST', 'Bad Request: more than one Host header', 400, RPC.SERVER_ERROR)
export const FST_MCP_TOO_MANY_SESSIONS = define('FST_MCP_TOO_MANY_SESSIONS', 'Service Unavailable: the session limit is reached, retry later', 503, RPC.SERVER_ERROR)
export const FST_MCP_STREAM_CONFLICT = define('FST_MCP_STREAM_CONFLICT', 'Conflict: %s', 409, RPC.SERVER_ERROR)
export const FST_MCP_BAD_EVENT_ID = define('FST_MCP_BAD_EVENT_ID', 'Bad Request: invalid Last-Event-ID', 400, RPC.SERVER_ERROR)
export const FST_MCP_METHOD_NOT_ALLOWED = define('FST_MCP_METHOD_NOT_ALLOWED', 'Method Not Allowed: %s', 405, RPC.SERVER_ERROR)
export const FST_MCP_UNAVAILABLE = define('FST_MCP_UNAVAILABLE', 'Service Unavailable: %s', 503, RPC.SERVER_ERROR)
export const FST_MCP_UNAUTHORIZED = define('FST_MCP_UNAUTHORIZED', 'Unauthorized: %s', 401, RPC.UNAUTHORIZED)
export const FST_MCP_FORBIDDEN = define('FST_MCP_FORBIDDEN', 'Forbidden: %s', 403, RPC.FORBIDDEN)
export const FST_MCP_OPTIONS = define('FST_MCP_OPTIONS', 'Invalid fastify-mcp options: %s', 500, RPC.SERVER_ERROR)
export const FST_MCP_DUPLICATE = define('FST_MCP_DUPLICATE', '%s', 500, RPC.SERVER_ERROR)
export const FST_MCP_INVALID_DEFINITION = define('FST_MCP_INVALID_DEFINITION', 'Invalid definition: %s', 500, RPC.SERVER_ERROR)

/** A tool handler may throw this to return a tool execution error (isError result) with this message. */
export class McpToolError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'McpToolError'
  }
}

/** Errors of the 2026-07-28 request ladder: the JSON-RPC code (and data) travel with the HTTP status. */
export const FST_MCP_HEADER_MISMATCH = define('FST_MCP_HEADER_MISMATCH', 'Header mismatch: %s', 400, RPC.HEADER_MISMATCH)
export const FST_MCP_UNSUPPORTED_VERSION = define('FST_MCP_UNSUPPORTED_VERSION', 'Unsupported protocol version: %s', 400, RPC.UNSUPPORTED_PROTOCOL_VERSION)
export const FST_MCP_INVALID_PARAMS = define('FST_MCP_INVALID_PARAMS', 'Invalid params: %s', 400, RPC.INVALID_PARAMS)
export const FST_MCP_BAD_REQUEST = define('FST_MCP_BAD_REQUEST', '%s', 400, RPC.SERVER_ERROR)
export const FST_MCP_METHOD_NOT_FOUND = define('FST_MCP_METHOD_NOT_FOUND', 'Method not found: %s', 404, RPC.METHOD_NOT_FOUND)

/** Attaches what varies per throw to an HTTP error: data, the id of the request it answers, and a code other than its definition's. */
export function rpcError<E extends Error> (err: E, rpc: { code?: number, data?: unknown, id?: unknown }): E {
  return Object.assign(err, rpc.code === undefined ? { rpcData: rpc.data, rpcId: rpc.id } : { rpcCode: rpc.code, rpcData: rpc.data, rpcId: rpc.id })
}

/** Every error of the plugin by its code, like Fastify's `errorCodes`: `err instanceof errorCodes.FST_MCP_SESSION_NOT_FOUND`. */
export const errorCodes = {
  FST_MCP_BAD_ORIGIN,
  FST_MCP_UNAUTHENTICATED_ENDPOINT,
  FST_MCP_BAD_HOST,
  FST_MCP_NOT_ACCEPTABLE,
  FST_MCP_UNSUPPORTED_MEDIA_TYPE,
  FST_MCP_PARSE_ERROR,
  FST_MCP_INVALID_REQUEST,
  FST_MCP_BODY_TOO_LARGE,
  FST_MCP_SESSION_REQUIRED,
  FST_MCP_SESSION_NOT_FOUND,
  FST_MCP_ALREADY_INITIALIZED,
  FST_MCP_BAD_PROTOCOL_VERSION,
  FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS,
  FST_MCP_RATE_LIMITED,
  FST_MCP_AMBIGUOUS_HOST,
  FST_MCP_TOO_MANY_SESSIONS,
  FST_MCP_STREAM_CONFLICT,
  FST_MCP_BAD_EVENT_ID,
  FST_MCP_METHOD_NOT_ALLOWED,
  FST_MCP_UNAVAILABLE,
  FST_MCP_UNAUTHORIZED,
  FST_MCP_FORBIDDEN,
  FST_MCP_OPTIONS,
  FST_MCP_DUPLICATE,
  FST_MCP_INVALID_DEFINITION,
  FST_MCP_HEADER_MISMATCH,
  FST_MCP_UNSUPPORTED_VERSION,
  FST_MCP_INVALID_PARAMS,
  FST_MCP_BAD_REQUEST,
  FST_MCP_METHOD_NOT_FOUND
} as const
