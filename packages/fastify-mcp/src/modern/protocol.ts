import type { FastifyRequest } from 'fastify'
import type { ClientCapabilities, Implementation, LoggingLevel, RequestId } from '@modelcontextprotocol/server'
import { FST_MCP_HEADER_MISMATCH, FST_MCP_INVALID_PARAMS, FST_MCP_UNSUPPORTED_VERSION, rpcError } from '../errors.js'
import { headerOf, isLogLevel } from '../protocol/index.js'
import type { HeaderParam } from '../registry/definitions.js'

/** Revisions served statelessly, with per-request metadata (2026-07-28 and later). */
export const MODERN_VERSIONS = ['2026-07-28']

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId'
} as const

/** What a 2026-07-28 request says about its client, from `params._meta`. */
export interface Envelope {
  protocolVersion: string
  clientInfo: Implementation | null
  clientCapabilities: ClientCapabilities
  logLevel: LoggingLevel | null
}

export function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Reads and checks the per-request envelope (the era classifier has already matched the version header
 * against it): the version must be one served here, the capabilities an object, the optional fields
 * well-formed, and the `MCP-Protocol-Version` header present.
 */
export function readEnvelope (request: FastifyRequest, id: RequestId, meta: Record<string, unknown>): Envelope {
  const version = meta[META.protocolVersion]
  if (typeof version !== 'string' || !MODERN_VERSIONS.includes(version)) {
    const requested = typeof version === 'string' ? version : String(version)
    throw rpcError(new FST_MCP_UNSUPPORTED_VERSION(requested.slice(0, 64)), { id, data: { supported: MODERN_VERSIONS, requested } })
  }
  const caps = meta[META.clientCapabilities]
  if (!isObject(caps)) throw rpcError(new FST_MCP_INVALID_PARAMS(`_meta["${META.clientCapabilities}"] must be an object`), { id })
  const info = meta[META.clientInfo]
  if (info !== undefined && (!isObject(info) || typeof info.name !== 'string' || typeof info.version !== 'string')) {
    throw rpcError(new FST_MCP_INVALID_PARAMS(`_meta["${META.clientInfo}"] must be { name, version }`), { id })
  }
  const level = meta[META.logLevel]
  if (level !== undefined && (typeof level !== 'string' || !isLogLevel(level))) {
    throw rpcError(new FST_MCP_INVALID_PARAMS(`_meta["${META.logLevel}"] must be a logging level`), { id })
  }
  if (request.headers['mcp-protocol-version'] === undefined) {
    throw mismatch(id, 'the MCP-Protocol-Version header is required')
  }
  return {
    protocolVersion: version,
    clientInfo: (info as Implementation | undefined) ?? null,
    clientCapabilities: caps as ClientCapabilities,
    logLevel: (level as LoggingLevel | undefined) ?? null
  }
}

export function mismatch (id: RequestId | undefined, message: string): Error {
  return rpcError(new FST_MCP_HEADER_MISMATCH(message), { id })
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * A header value as the body would carry it: optional whitespace trimmed, and the `=?base64?…?=`
 * sentinel decoded (strict Base64 of UTF-8). Null when the sentinel holds invalid Base64.
 */
export function headerValue (raw: string): string | null {
  const v = raw.trim()
  if (!v.startsWith('=?base64?') || !v.endsWith('?=') || v.length < 11) return v
  const inner = v.slice(9, -2)
  if (!BASE64.test(inner)) return null
  return Buffer.from(inner, 'base64').toString('utf8')
}

function single (request: FastifyRequest, name: string): string | undefined {
  return headerOf(request.headers, name)
}

/** The body field `Mcp-Name` mirrors, for the methods that have one. */
export function nameOf (method: string, params: Record<string, unknown>): unknown {
  if (method === 'tools/call' || method === 'prompts/get') return params.name
  if (method === 'resources/read') return params.uri
  return undefined
}

/**
 * Checks the routing headers of a 2026-07-28 request against its body: `Mcp-Method` always, `Mcp-Name`
 * for calls that name a target, `Mcp-Param-*` for the tool arguments annotated with `x-mcp-header`.
 * Header names are case-insensitive (Node lower-cases them); values are compared exactly.
 */
export function checkHeaders (request: FastifyRequest, id: RequestId, method: string, params: Record<string, unknown>, toolParams: HeaderParam[]): void {
  const m = single(request, 'mcp-method')
  if (m === undefined) throw mismatch(id, 'the Mcp-Method header is required')
  if (m.trim() !== method) throw mismatch(id, `the Mcp-Method header names ${JSON.stringify(m.trim())} but the body names ${JSON.stringify(method)}`)
  const target = nameOf(method, params)
  if (typeof target === 'string') {
    const raw = single(request, 'mcp-name')
    if (raw === undefined) throw mismatch(id, `the Mcp-Name header is required for ${method}`)
    const value = headerValue(raw)
    if (value === null) throw mismatch(id, 'the Mcp-Name header holds invalid Base64')
    if (value !== target) throw mismatch(id, `the Mcp-Name header names ${JSON.stringify(value)} but the body names ${JSON.stringify(target)}`)
  }
  if (toolParams.length === 0) return
  const args = isObject(params.arguments) ? params.arguments : {}
  for (const p of toolParams) {
    let v: unknown = args
    for (const key of p.path) v = isObject(v) ? v[key] : undefined
    const raw = single(request, p.header)
    if (v === undefined || v === null) {
      if (raw !== undefined) throw mismatch(id, `the ${p.header} header is sent but the argument ${p.path.join('.')} is absent`)
      continue
    }
    if (raw === undefined) throw mismatch(id, `the ${p.header} header is required (argument ${p.path.join('.')})`)
    const value = headerValue(raw)
    if (value === null) throw mismatch(id, `the ${p.header} header holds invalid Base64`)
    const same = p.type === 'integer' ? value !== '' && Number(value) === v : value === String(v)
    if (!same) throw mismatch(id, `the ${p.header} header does not match the argument ${p.path.join('.')}`)
  }
}

/** The target a 2026 request names in its headers, for the scope check before the body is read (the body is checked against it later). */
export function preParseTarget (request: FastifyRequest): { method: string, params: Record<string, unknown> } | null {
  const method = single(request, 'mcp-method')?.trim()
  if (method !== 'tools/call' && method !== 'prompts/get' && method !== 'resources/read') return null
  const raw = single(request, 'mcp-name')
  const name = raw === undefined ? null : headerValue(raw)
  if (name === null) return null
  return { method, params: method === 'resources/read' ? { uri: name } : { name } }
}
