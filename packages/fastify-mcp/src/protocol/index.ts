import type { LoggingLevel } from '@modelcontextprotocol/server'

/** A leaf module: protocol facts both eras and the HTTP layer share, importing nothing of the plugin. */

/** The 2025 protocol versions served with sessions, newest first. */
export const SUPPORTED_VERSIONS: string[] = ['2025-11-25', '2025-06-18', '2025-03-26']

const SEVERITY: Record<string, number> = { debug: 0, info: 1, notice: 2, warning: 3, error: 4, critical: 5, alert: 6, emergency: 7 }

/** Whether `level` is one of the protocol's logging levels. */
export function isLogLevel (level: string): level is LoggingLevel {
  return Object.hasOwn(SEVERITY, level)
}

/** Whether a log message at `level` passes the minimum `min` (none set: everything passes). */
export function logPasses (level: LoggingLevel, min: LoggingLevel | null): boolean {
  return min === null || (SEVERITY[level] ?? 0) >= (SEVERITY[min] ?? 0)
}

/**
 * The one reader of request headers: a header sent more than once is combined with commas (RFC 9110
 * §5.3), so a repeated `Mcp-Session-Id` or `MCP-Protocol-Version` never matches a single value.
 */
export function headerOf (headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/

/**
 * Whether a host name (as in a URL, a `Host` header without its port, or a listen address) is a
 * loopback one: `localhost`, `::1` (bracketed or not), or an IPv4 literal in 127.0.0.0/8 — never a
 * DNS name that merely starts with `127.` (a rebinding page could use one).
 */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || h === '[::1]' || LOOPBACK_V4.test(h)
}

/** Whether a socket address is a loopback one (an unknown address, as under `inject`, counts as loopback). */
export function isLoopbackAddress (address: string | undefined): boolean {
  if (address === undefined) return true
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}
