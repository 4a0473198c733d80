import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { ACC, PV, initBody } from './http.js'

const JSON_CT = 'application/json'

/** Opens a session with `inject`; resolves with its id. */
export async function init (app: FastifyInstance, version = PV): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': JSON_CT }, payload: initBody(version) })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.headers['mcp-session-id'] as string
}

/** POSTs a body (an object, or raw text) to /mcp with `inject`. */
export async function post (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': JSON_CT, ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
}

/** The JSON-RPC error object of a response. */
export function rpcError (res: LightMyRequestResponse): { code: number, message: string } {
  const body = JSON.parse(res.body) as { jsonrpc: string, error: { code: number, message: string }, id?: unknown }
  return body.error
}
