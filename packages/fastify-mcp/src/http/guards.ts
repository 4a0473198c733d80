import type { FastifyRequest } from 'fastify'
import { FST_MCP_AMBIGUOUS_HOST, FST_MCP_BAD_HOST, FST_MCP_BAD_ORIGIN, FST_MCP_BAD_PROTOCOL_VERSION, FST_MCP_NOT_ACCEPTABLE, FST_MCP_UNAUTHENTICATED_ENDPOINT } from '../errors.js'
import { headerOf, isLoopbackAddress, isLoopbackHost, SUPPORTED_VERSIONS } from '../protocol/index.js'

function hostnameOf (host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return end === -1 ? host : host.slice(0, end + 1)
  }
  const colon = host.indexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
}

const LOOPBACK_SOCKET = Symbol('fastify-mcp.loopbackSocket')

/** Whether the connection arrived on a loopback address (asked of the socket once, not per request). */
function onLoopback (socket: FastifyRequest['socket']): boolean {
  const s = socket as typeof socket & { [LOOPBACK_SOCKET]?: boolean }
  s[LOOPBACK_SOCKET] ??= isLoopbackAddress(socket.localAddress)
  return s[LOOPBACK_SOCKET]
}

/** Whether the request carries more than one `Host` header (Node keeps only the first in `headers`). */
function repeatedHost (rawHeaders: string[]): boolean {
  let seen = false
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true
      seen = true
    }
  }
  return false
}

/**
 * DNS-rebinding protection: checks `Host` and `Origin` before anything else runs (throws 403).
 * On a loopback socket only loopback names pass unless allowlists say otherwise.
 */
export function hostOriginGuard (allowedHosts: string[] | null, allowedOrigins: string[] | null): (request: FastifyRequest) => void {
  return function mcpHostOriginGuard (request: FastifyRequest): void {
    if (repeatedHost(request.raw.rawHeaders)) throw new FST_MCP_AMBIGUOUS_HOST()
    const loopback = onLoopback(request.socket)
    const host = (request.headers.host ?? '').toLowerCase()
    const hostname = hostnameOf(host)
    const hostOk = allowedHosts !== null
      ? allowedHosts.includes(host) || allowedHosts.includes(hostname)
      : !loopback || isLoopbackHost(hostname)
    if (!hostOk) throw new FST_MCP_BAD_HOST(host === '' ? '(none)' : host)
    const origin = request.headers.origin
    if (origin !== undefined) {
      const o = origin.toLowerCase()
      let ok = false
      if (allowedOrigins !== null) ok = allowedOrigins.includes(o)
      else if (loopback) {
        try { ok = isLoopbackHost(new URL(o).hostname) } catch { ok = false }
      }
      if (!ok) throw new FST_MCP_BAD_ORIGIN(origin)
    }
  }
}

/**
 * Without `auth` (and without `allowUnauthenticated`), the endpoint is served only on loopback
 * sockets: a request that arrived on any other local address is refused with 403, whatever the app
 * listens on.
 */
export function loopbackOnlyGuard (path: string): (request: FastifyRequest) => void {
  return function mcpLoopbackOnly (request: FastifyRequest): void {
    if (!onLoopback(request.socket)) throw new FST_MCP_UNAUTHENTICATED_ENDPOINT(path, request.socket.localAddress ?? '?')
  }
}

/** Whether a listen address is one `loopbackOnlyGuard` serves. */
export function servesLoopbackOnly (address: string): boolean {
  return isLoopbackAddress(address) || isLoopbackHost(address)
}

function accepts (accept: string, type: string): boolean {
  if (accept.includes(type) || accept.includes('*/*')) return true
  return accept.includes(`${type.slice(0, type.indexOf('/'))}/*`)
}

/** Throws 406 unless `Accept` lists every one of `types` (or a wildcard covering it). */
export function requireAccept (request: FastifyRequest, types: string[]): void {
  const accept = (request.headers.accept ?? '').toLowerCase()
  for (const type of types) if (!accepts(accept, type)) throw new FST_MCP_NOT_ACCEPTABLE(types.join(' and '))
}

/** Throws 400 when `MCP-Protocol-Version` is present and not a supported version. */
export function checkProtocolVersion (request: FastifyRequest): void {
  const value = headerOf(request.headers, 'mcp-protocol-version')
  if (value === undefined) return
  if (!SUPPORTED_VERSIONS.includes(value)) throw new FST_MCP_BAD_PROTOCOL_VERSION(value.slice(0, 64), SUPPORTED_VERSIONS.join(', '))
}
