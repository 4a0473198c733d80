import type { FastifyRequest } from 'fastify'
import { FST_MCP_PARSE_ERROR } from '../errors.js'

/**
 * Whether arrays and objects in `text` nest deeper than `max`: one pass over the raw text, outside
 * strings, before `JSON.parse` spends time (and stack) on a hostile body.
 */
export function nestsDeeperThan (text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true
    } else if (c === 93 || c === 125) {
      depth--
    }
  }
  return false
}

/** The `application/json` parser of the MCP routes: depth bounded before parsing, errors as -32700. */
export function jsonParser (maxDepth: number): (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void {
  return function mcpParseJson (_request, body, done) {
    if (body.length === 0) {
      done(new FST_MCP_PARSE_ERROR('empty body'))
      return
    }
    if (nestsDeeperThan(body, maxDepth)) {
      done(new FST_MCP_PARSE_ERROR(`the body nests deeper than ${maxDepth} levels`))
      return
    }
    try {
      done(null, JSON.parse(body))
    } catch (err) {
      done(new FST_MCP_PARSE_ERROR((err as Error).message))
    }
  }
}
