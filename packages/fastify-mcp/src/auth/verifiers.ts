import { createPublicKey, hash, type KeyObject } from 'node:crypto'
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey
} from 'jose'
import type { McpCaller } from '../registry/types.js'
import { TokenError, type AuthOptions, type TokenVerifier } from './types.js'
import { isLoopbackHost } from '../protocol/index.js'
import { FST_MCP_OPTIONS } from '../errors.js'

const ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519']

/** `scope` (space-delimited) or `scp` (array or string). */
export function defaultScopes (claims: Record<string, unknown>): string[] {
  const pick = (v: unknown): string[] | null => {
    if (typeof v === 'string') return v.split(' ').filter((s) => s !== '')
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[]
    return null
  }
  return pick(claims.scope) ?? pick(claims.scp) ?? []
}

/** Lowercases scheme and host (RFC 8707 / MCP canonical URI) and drops a trailing slash and fragment. */
export function canonicalResource (value: string): string {
  try {
    const u = new URL(value)
    u.hash = ''
    const s = u.toString()
    return s.endsWith('/') && u.pathname !== '/' ? s.slice(0, -1) : s.replace(/\/$/, '')
  } catch {
    return value
  }
}


/**
 * The one cache of verified tokens (the plugin's, and the introspection verifier's): keyed by their
 * SHA-256, at most `max` entries (the oldest goes first), each kept until the token expires or, with
 * `ttlMs`, until that much time has passed, whichever is first.
 */
export class TokenCache {
  readonly #max: number
  readonly #ttlMs: number
  readonly #map = new Map<string, { caller: McpCaller, until: number }>()
  constructor (max: number, ttlMs = Infinity) {
    this.#max = max
    this.#ttlMs = ttlMs
  }

  key (token: string): string { return hash('sha256', token, 'base64url') }

  get (key: string): McpCaller | undefined {
    const hit = this.#map.get(key)
    if (hit === undefined) return undefined
    if (hit.until <= Date.now()) {
      this.#map.delete(key)
      return undefined
    }
    return hit.caller
  }

  set (key: string, caller: McpCaller): void {
    if (this.#max <= 0) return
    if (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next().value
      if (oldest !== undefined) this.#map.delete(oldest)
    }
    const until = Math.min(Date.now() + this.#ttlMs, caller.expiresAt === null ? Infinity : caller.expiresAt * 1000)
    this.#map.set(key, { caller, until })
  }
}

function callerFrom (payload: JWTPayload, scopes: (claims: Record<string, unknown>) => string[]): McpCaller {
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenError('the token has no subject')
  const claims = payload as Record<string, unknown>
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : typeof claims.azp === 'string' ? claims.azp : null
  return {
    subject: payload.sub,
    clientId,
    issuer: payload.iss ?? null,
    scopes: scopes(claims),
    tokenId: payload.jti ?? null,
    expiresAt: payload.exp ?? null,
    claims
  }
}

function staticKeys (keys: Array<string | Record<string, unknown>>): JWTVerifyGetKey {
  const jwks: JWK[] = []
  const pems: KeyObject[] = []
  for (const k of keys) {
    if (typeof k === 'string') pems.push(createPublicKey(k))
    else jwks.push(k as JWK)
  }
  const local = jwks.length > 0 ? createLocalJWKSet({ keys: jwks }) : null
  return async (header, token) => {
    if (local !== null && (header.kid !== undefined || pems.length === 0)) return await local(header, token)
    if (pems.length === 1) return pems[0] as KeyObject
    const match = pems.find((p) => {
      const type = p.asymmetricKeyType
      if (header.alg.startsWith('ES')) return type === 'ec'
      if (header.alg.startsWith('RS') || header.alg.startsWith('PS')) return type === 'rsa'
      return type === 'ed25519' || type === 'ed448'
    })
    if (match === undefined) throw new TokenError('no configured key matches the token')
    return match
  }
}

/** Verifies JWTs with jose against a remote JWKS, static public keys, or an HS256 secret. */
export function jwtVerifier (o: AuthOptions, warn: (msg: string) => void): TokenVerifier {
  if (o.issuer === undefined || o.audience === undefined) throw new FST_MCP_OPTIONS('auth.issuer and auth.audience are required for JWT verification')
  const sources = [o.jwks, o.publicKeys, o.hs256Secret].filter((s) => s !== undefined).length
  if (sources !== 1) throw new FST_MCP_OPTIONS('auth needs exactly one of jwks, publicKeys or hs256Secret (or a custom verifier)')
  const issuer = o.issuer
  const audience = canonicalResource(o.audience)
  const scopes = o.scopes ?? defaultScopes
  const clockTolerance = o.clockToleranceSec ?? 5
  let algorithms = o.algorithms ?? (o.hs256Secret !== undefined ? ['HS256'] : ASYMMETRIC)
  let key: JWTVerifyGetKey | Uint8Array
  if (o.jwks !== undefined) {
    const url = new URL(o.jwks.url)
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new FST_MCP_OPTIONS(`auth.jwks.url must be https (http only on a loopback host), got ${url.toString()}`)
    }
    key = createRemoteJWKSet(url, {
      timeoutDuration: o.jwks.timeoutMs ?? 5000,
      cooldownDuration: o.jwks.cooldownMs ?? 30_000,
      cacheMaxAge: o.jwks.cacheMaxAgeMs ?? 600_000
    })
  } else if (o.publicKeys !== undefined) {
    key = staticKeys(o.publicKeys)
  } else {
    if ((o.hs256Secret as string).length < 32) throw new FST_MCP_OPTIONS('auth.hs256Secret must be at least 32 characters')
    warn('fastify-mcp: auth uses an HS256 shared secret; use asymmetric keys (JWKS) in production')
    key = new TextEncoder().encode(o.hs256Secret)
    algorithms = algorithms.filter((a) => a === 'HS256')
  }
  if (algorithms.includes('none')) throw new FST_MCP_OPTIONS('auth.algorithms must not include "none"')

  return {
    async verify (token: string): Promise<McpCaller> {
      let payload: JWTPayload
      try {
        decodeProtectedHeader(token)
      } catch (err) {
        throw new TokenError('the token is malformed', { cause: err })
      }
      try {
        const result = typeof key === 'function'
          ? await jwtVerify(token, key, { issuer, algorithms, clockTolerance })
          : await jwtVerify(token, key, { issuer, algorithms, clockTolerance })
        payload = result.payload
      } catch (err) {
        if (err instanceof TokenError) throw err
        if (err instanceof joseErrors.JWKSTimeout) throw new TokenError('the key set could not be fetched in time', { unavailable: true, cause: err })
        if (err instanceof joseErrors.JOSEError) throw new TokenError(describe(err), { cause: err })
        if (err instanceof TypeError || (err as { code?: string }).code === 'ECONNREFUSED') throw new TokenError('the key set is unreachable', { unavailable: true, cause: err })
        throw new TokenError('the token is malformed', { cause: err })
      }
      const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud]
      if (!aud.some((a) => canonicalResource(a) === audience)) throw new TokenError('the token was not issued for this resource (aud)')
      return callerFrom(payload, scopes)
    }
  }
}

function describe (err: InstanceType<typeof joseErrors.JOSEError>): string {
  switch (err.code) {
    case 'ERR_JWT_EXPIRED': return 'the token has expired'
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'the token signature is invalid'
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return 'the token algorithm is not allowed'
    case 'ERR_JWKS_NO_MATCHING_KEY': return 'no key matches the token'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as InstanceType<typeof joseErrors.JWTClaimValidationFailed>).claim
      if (claim === 'nbf') return 'the token is not yet valid'
      if (claim === 'iss') return 'the token issuer is not trusted'
      return `the token claim "${claim}" is invalid`
    }
    default: return 'the token is invalid'
  }
}

export interface IntrospectionOptions {
  /** RFC 7662 endpoint (https, or http on loopback). */
  url: string
  /** Client credentials for the introspection endpoint (HTTP Basic). */
  clientId: string
  clientSecret: string
  /** Expected audience (this endpoint's canonical URL); checked when the response carries `aud`. */
  audience?: string
  /** Expected issuer; checked when the response carries `iss`. */
  issuer?: string
  /** Seconds an answer is reused at most. Default 30. */
  cacheSeconds?: number
  timeoutMs?: number
  scopes?: (claims: Record<string, unknown>) => string[]
}

/**
 * RFC 7662 token introspection for opaque tokens, with a short cache.
 *
 * @example
 * await app.register(fastifyMcp, { serverInfo, auth: { verifier: introspectionVerifier({ url, clientId, clientSecret }), resourceMetadata: { authorizationServers: [as] } } })
 */
export function introspectionVerifier (o: IntrospectionOptions): TokenVerifier {
  const url = new URL(o.url)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) throw new FST_MCP_OPTIONS('introspection url must be https (http only on a loopback host)')
  const basic = Buffer.from(`${encodeURIComponent(o.clientId)}:${encodeURIComponent(o.clientSecret)}`).toString('base64')
  const cache = new TokenCache(10_000, (o.cacheSeconds ?? 30) * 1000)
  const scopes = o.scopes ?? defaultScopes
  const audience = o.audience === undefined ? null : canonicalResource(o.audience)
  return {
    async verify (token) {
      const key = cache.key(token)
      const hit = cache.get(key)
      if (hit !== undefined) return hit
      let res: Response
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 5000)
        })
      } catch (err) {
        throw new TokenError('the introspection endpoint is unreachable', { unavailable: true, cause: err })
      }
      if (!res.ok) throw new TokenError(`the introspection endpoint answered ${res.status}`, { unavailable: true })
      const body = await res.json() as Record<string, unknown>
      if (body.active !== true) throw new TokenError('the token is not active')
      if (typeof body.exp === 'number' && body.exp * 1000 <= Date.now()) throw new TokenError('the token has expired')
      if (o.issuer !== undefined && body.iss !== undefined && body.iss !== o.issuer) throw new TokenError('the token issuer is not trusted')
      if (audience !== null && body.aud !== undefined) {
        const aud = Array.isArray(body.aud) ? body.aud as string[] : [String(body.aud)]
        if (!aud.some((a) => canonicalResource(a) === audience)) throw new TokenError('the token was not issued for this resource (aud)')
      }
      const caller = callerFrom(body as JWTPayload, scopes)
      if (caller.clientId === null && typeof body.client_id === 'string') caller.clientId = body.client_id
      cache.set(key, caller)
      return caller
    }
  }
}
