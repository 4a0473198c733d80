import { randomUUID } from 'node:crypto'
import { ProtocolError, type ReadResourceResult } from '@modelcontextprotocol/server'
import { RPC, type McpContext } from '@mcp-fastify/fastify-mcp'
import { sha256Of, type Services } from '../tools/define.js'

/** The answer for a URI that matches a template but names nothing the service holds. */
export function notFound (uri: string, why: string): ProtocolError {
  return new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${uri} (${why})`, { uri })
}

/**
 * Runs one resource read and appends it to the audit log the way the tools' wrapper does: the verified
 * caller, the URI, the outcome. A read whose audit line cannot be written is not answered.
 */
export async function audited (s: Services, uri: URL, ctx: McpContext, read: () => Promise<ReadResourceResult> | ReadResourceResult): Promise<ReadResourceResult> {
  const caller = ctx.caller
  if (caller === null) throw new ProtocolError(RPC.FORBIDDEN, 'this service requires an authenticated caller')
  const audit = {
    requestId: randomUUID(),
    method: 'resources/read',
    resource: uri.href,
    at: new Date().toISOString(),
    caller: { subject: caller.subject, clientId: caller.clientId, issuer: caller.issuer, scopes: caller.scopes },
    inputSha256: sha256Of({ uri: uri.href })
  }
  let result: ReadResourceResult
  try {
    result = await read()
  } catch (err) {
    await s.records.append({ ...audit, outcome: 'error', error: (err as Error).message })
    throw err
  }
  try {
    await s.records.append({ ...audit, outcome: 'ok', session: ctx.session?.id ?? null, protocolVersion: ctx.client.protocolVersion, jsonrpcId: ctx.requestId })
  } catch (err) {
    ctx.request?.log.error({ err }, 'audit log write failed; the read is not answered')
    throw new ProtocolError(RPC.INTERNAL_ERROR, 'the audit log could not be written; the read was not completed')
  }
  return result
}

/** A JSON body and its readable rendering, as two contents of one resource. */
export function jsonAndText (uri: URL, value: unknown, text: string): ReadResourceResult {
  return {
    contents: [
      { uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) },
      { uri: uri.href, mimeType: 'text/plain', text }
    ]
  }
}
