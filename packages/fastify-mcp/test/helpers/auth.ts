import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { z } from 'zod'
import fastifyMcp, { type FastifyMcpOptions } from '../../src/index.js'

export const AUDIENCE = 'http://127.0.0.1:9999/mcp'
export const ACC = 'application/json, text/event-stream'

export interface Keys { alg: string, kid: string, privateKey: Parameters<SignJWT['sign']>[0], jwk: JWK }

export async function makeKeys (alg: 'ES256' | 'RS256' | 'EdDSA', kid: string): Promise<Keys> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  return { alg, kid, privateKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

/** A local identity provider: serves a JWKS whose keys the test can change, and signs tokens. */
export async function identityProvider (keys: Keys[], options: { delayMs?: number } = {}): Promise<{ issuer: string, jwksUrl: string, keys: Keys[], hits: () => number, close: () => Promise<void> }> {
  const app = Fastify()
  let hits = 0
  const state = { keys }
  app.get('/jwks', async () => {
    hits++
    if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
    return { keys: state.keys.map((k) => k.jwk) }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const issuer = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    get keys () { return state.keys },
    set keys (k: Keys[]) { state.keys = k },
    hits: () => hits,
    close: async () => { await app.close() }
  }
}

export interface TokenOptions {
  sub?: string
  scope?: string
  iss?: string
  aud?: string | string[]
  exp?: string | number
  nbf?: string | number
  clientId?: string
  kid?: string
  claims?: Record<string, unknown>
}

export async function sign (key: Keys, issuer: string, o: TokenOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = { ...o.claims }
  if (o.scope !== undefined) claims.scope = o.scope
  if (o.clientId !== undefined) claims.client_id = o.clientId
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid })
    .setIssuer(o.iss ?? issuer)
    .setAudience(o.aud ?? AUDIENCE)
    .setSubject(o.sub ?? 'alice')
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '5m')
  if (o.nbf !== undefined) jwt = jwt.setNotBefore(o.nbf)
  return await jwt.sign(key.privateKey)
}

/** An app with three tools: public, scoped (counts its runs), and one echoing the caller. */
export async function authApp (auth: FastifyMcpOptions['auth'], extra: Partial<FastifyMcpOptions> = {}): Promise<FastifyInstance & { runs: { admin: number } }> {
  const app = Fastify() as unknown as FastifyInstance & { runs: { admin: number } }
  app.runs = { admin: 0 }
  await app.register(fastifyMcp, { serverInfo: { name: 'auth-test', version: '1' }, auth, allowedHosts: ['127.0.0.1:9999', 'localhost', '127.0.0.1'], ...extra })
  app.mcp.tool({ name: 'open', description: 'Needs no scope', handler: () => ({ content: [{ type: 'text', text: 'open' }] }) })
  app.mcp.tool({
    name: 'admin_tool',
    description: 'Needs tools:admin',
    scopes: ['tools:admin'],
    handler: () => { app.runs.admin++; return { content: [{ type: 'text', text: 'admin' }] } }
  })
  app.mcp.tool({
    name: 'whoami',
    description: 'Echoes the caller',
    scopes: ['tools:basic'],
    input: z.object({}),
    handler: (_args, ctx) => ({ content: [{ type: 'text', text: JSON.stringify({ sub: ctx.caller?.subject, scopes: ctx.caller?.scopes, clientId: ctx.caller?.clientId }) }] })
  })
  return app
}

export const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }

export function headers (token: string | null, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { host: '127.0.0.1:9999', accept: ACC, 'content-type': 'application/json', ...extra }
  if (token !== null) h.authorization = `Bearer ${token}`
  return h
}
