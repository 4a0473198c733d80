import type { FastifyError, FastifyRequest } from 'fastify'
import type { McpCaller } from '../registry/types.js'
import { headerOf } from '../protocol/index.js'

/** Why a request was refused (see {@link McpRefusal}). */
export type McpRefusalReason =
  | 'unauthenticated' | 'invalid_token' | 'insufficient_scope' | 'unknown_session' | 'session_principal_mismatch'
  | 'rate_limited' | 'too_many_sessions' | 'invalid_request' | 'invalid_params' | 'forbidden_host'
  | 'forbidden_origin' | 'payload_too_large' | 'parse_error'

/** A refused request, given to the `onRefusal` option (an audit log records these). Never holds token material. */
export interface McpRefusal {
  /** ISO time of the refusal. */
  at: string
  /** Fastify's request id. */
  requestId: string
  /** HTTP status sent. */
  status: number
  /** JSON-RPC error code, when there is one. */
  code?: number
  reason: McpRefusalReason
  message: string
  method?: string
  /** Tool, resource or prompt name. */
  target?: string
  caller: McpCaller | null
  sessionId?: string
  protocolVersion?: string
  ip: string
}

export type OnRefusal = (refusal: McpRefusal) => void | Promise<void>

/** The reason of a refusal answered by the MCP error handler, or null when it is no refusal (5xx). */
export function reasonOf (err: FastifyError & { refusal?: McpRefusalReason, headers?: Record<string, string> }, status: number): McpRefusalReason | null {
  if (err.refusal !== undefined) return err.refusal
  switch (err.code) {
    case 'FST_MCP_UNAUTHORIZED': return /error="invalid_token"/.test(err.headers?.['www-authenticate'] ?? '') ? 'invalid_token' : 'unauthenticated'
    case 'FST_MCP_FORBIDDEN': return 'insufficient_scope'
    case 'FST_MCP_SESSION_NOT_FOUND': return 'unknown_session'
    case 'FST_MCP_BAD_HOST': case 'FST_MCP_AMBIGUOUS_HOST': return 'forbidden_host'
    case 'FST_MCP_BAD_ORIGIN': case 'FST_MCP_UNAUTHENTICATED_ENDPOINT': return 'forbidden_origin'
    case 'FST_MCP_PARSE_ERROR': case 'FST_ERR_CTP_EMPTY_JSON_BODY': case 'FST_ERR_CTP_INVALID_JSON_BODY': return 'parse_error'
    case 'FST_MCP_INVALID_PARAMS': return 'invalid_params'
    case 'FST_MCP_TOO_MANY_SESSIONS': case 'FST_MCP_TOO_MANY_PRINCIPAL_SESSIONS': return 'too_many_sessions'
  }
  if (status === 413) return 'payload_too_large'
  if (status === 429) return 'rate_limited'
  if (status >= 400 && status < 500) return 'invalid_request'
  return null
}

function header (request: FastifyRequest, name: string): string | undefined {
  return headerOf(request.headers, name)
}

/** What the request names, from its parsed body (first message of a batch) or else its 2026 routing headers. */
function targetOf (request: FastifyRequest): { method?: string, target?: string } {
  const body = request.body
  const m = (Array.isArray(body) ? body[0] : body) as { method?: unknown, params?: { name?: unknown, uri?: unknown } } | null | undefined
  const out: { method?: string, target?: string } = {}
  const method = typeof m?.method === 'string' ? m.method : header(request, 'mcp-method')
  if (method !== undefined) out.method = method
  const name = m?.params?.name ?? m?.params?.uri
  const target = typeof name === 'string' ? name : header(request, 'mcp-name')
  if (target !== undefined) out.target = target
  return out
}

/** Builds the refusal record of a request. */
export function refusalOf (request: FastifyRequest, status: number, reason: McpRefusalReason, message: string, code: number | undefined, extra: { method?: string, target?: string } = {}): McpRefusal {
  const r: McpRefusal = {
    at: new Date().toISOString(),
    requestId: String(request.id),
    status,
    reason,
    message,
    caller: request.mcpAuth,
    ip: request.ip,
    ...targetOf(request),
    ...extra
  }
  if (code !== undefined) r.code = code
  const sid = request.mcpSession?.id ?? header(request, 'mcp-session-id')
  if (sid !== undefined) r.sessionId = sid.slice(0, 256)
  const pv = request.mcpSession?.protocolVersion ?? header(request, 'mcp-protocol-version')
  if (pv !== undefined) r.protocolVersion = pv.slice(0, 64)
  return r
}
