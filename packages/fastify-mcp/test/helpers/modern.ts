import { ACC } from './http.js'

/** The 2026-07-28 revision, and the `_meta` keys of its request envelope. */
export const MODERN = '2026-07-28'
export const META_KEYS = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities'
} as const

/** A 2026-07-28 `_meta` envelope (version, client info, no capabilities); `extra` adds or replaces keys. */
export function modernMeta (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    [META_KEYS.protocolVersion]: MODERN,
    [META_KEYS.clientInfo]: { name: 'raw', version: '1' },
    [META_KEYS.clientCapabilities]: {},
    ...extra
  }
}

/** A 2026-07-28 request with the headers a conforming client derives from it (Mcp-Method, Mcp-Name). */
export function modernRequest (id: number, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): { body: Record<string, unknown>, headers: Record<string, string> } {
  const headers: Record<string, string> = { accept: ACC, 'content-type': 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': method }
  const name = method === 'resources/read' ? params.uri : (method === 'tools/call' || method === 'prompts/get') ? params.name : undefined
  if (typeof name === 'string') headers['mcp-name'] = name
  return { body: { jsonrpc: '2.0', id, method, params: { ...params, _meta: modernMeta(meta) } }, headers }
}
