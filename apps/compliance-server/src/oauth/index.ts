import { createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { importJWK, SignJWT } from 'jose'
import type { ClientMetadata } from 'oidc-provider'
import { introspectionVerifier, type AuthOptions } from '@mcp-fastify/fastify-mcp'
import { ConfigError, isDevelopmentEnv, type Config } from '../config.js'
import { createAuthAuditor, type AuditAuthEvent, type AuditSink } from './audit.js'
import { loadKeyRing, MemoryKeyRows, type KeyRowStore } from './keys.js'
import { MemoryOidcStateStore } from './memory-state-store.js'
import { parseScopeMap, Upstream } from './federation.js'
import { createProvider } from './provider.js'
import { registerOAuthRoutes, type FailureCounter } from './routes.js'
import type { OidcStateStore } from './state-store.js'
import { hashPassword, UserDirectory, type User } from './users.js'

export { MemoryOidcStateStore } from './memory-state-store.js'
export type { OidcStateStore } from './state-store.js'

export const DEV_USER = 'analyst'
const INTROSPECTION_CLIENT = 'compliance-server-introspection'

export interface BuiltinAuth {
  auth: AuthOptions
  issuer: string
  /** A ready access token for the development user (development only), signed with the server's key. */
  devToken: string | null
  /** The development user's password (development only). */
  devPassword: string | null
  /** Mounts the authorization server and its pages on the app. */
  register: (app: FastifyInstance) => Promise<void>
}

export interface BuiltinAuthOptions {
  audit: AuditSink
  /** The records store's state; a memory store when omitted (one process, nothing survives a restart). */
  store?: OidcStateStore
  /** The key ring (the records store's `oauth_keys`); in memory when omitted. */
  keys?: KeyRowStore
  /** Failed sign-ins (the records store's `login_failures`, so the lockout holds on every instance); in memory when omitted. */
  failures?: FailureCounter
  onAuditError?: (err: unknown) => void
  /** Replaces the fetch of Client ID Metadata Documents (tests). */
  fetch?: typeof fetch
}

async function readClients (file: string | undefined): Promise<ClientMetadata[]> {
  if (file === undefined) return []
  let parsed: { clients?: unknown }
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as { clients?: unknown }
  } catch (err) {
    throw new ConfigError(`invalid AUTH_CLIENTS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  if (!Array.isArray(parsed.clients)) throw new ConfigError('invalid AUTH_CLIENTS_FILE: expected { "clients": [ { "client_id", "client_secret", "redirect_uris" } ] }')
  return parsed.clients as ClientMetadata[]
}

const derive = (key: Record<string, unknown>, purpose: string): string => createHmac('sha256', String(key.d)).update(purpose).digest('base64url')

/** The built-in authorization server (AUTH_MODE=builtin) and the plugin options that trust it through its JWKS. */
export async function setupBuiltinAuth (config: Config, o: BuiltinAuthOptions): Promise<BuiltinAuth> {
  const origin = new URL(config.publicUrl).origin
  const issuer = `${origin}/oauth`
  const resource = config.AUTH_AUDIENCE ?? config.publicUrl
  const development = isDevelopmentEnv(config.NODE_ENV)
  const { ALL_SCOPES } = await import('../auth.js')
  // An earlier version kept the keys in DATA_DIR/oauth-signing-keys.json: an empty ring takes them over.
  const keyRing = await loadKeyRing(o.keys ?? new MemoryKeyRows(), join(config.dataDir, 'oauth-signing-keys.json'))
  const jwks = keyRing.jwks
  const first = jwks.keys[0] as Record<string, unknown>
  const secret = keyRing.secret
  const audit: AuditAuthEvent = createAuthAuditor(o.audit, o.onAuditError ?? (() => {}))

  let devPassword: string | null = null
  const extra: User[] = []
  if (development) {
    devPassword = config.AUTH_DEV_PASSWORD ?? randomBytes(12).toString('base64url')
    extra.push({ username: DEV_USER, passwordHash: await hashPassword(devPassword), scopes: [...ALL_SCOPES] })
  }
  const users = new UserDirectory(config.AUTH_USERS_FILE ?? join(config.dataDir, 'users.json'), extra)

  const introspectionSecret = derive(secret, 'introspection-client')
  const clients = await readClients(config.AUTH_CLIENTS_FILE)
  if (config.AUTH_INTROSPECTION === 'on') {
    clients.push({ client_id: INTROSPECTION_CLIENT, client_secret: introspectionSecret, grant_types: [], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' })
  }
  const store = o.store ?? new MemoryOidcStateStore()
  const provider = createProvider({
    issuer,
    resource,
    scopes: ALL_SCOPES,
    store,
    jwks,
    cookieKeys: [derive(secret, 'cookies')],
    accessTokenTtlSeconds: Math.max(1, Math.round(config.AUTH_ACCESS_TOKEN_TTL / 1000)),
    registration: config.registration,
    registrationToken: config.AUTH_REGISTRATION_TOKEN,
    clients,
    development,
    audit,
    fetch: o.fetch,
    opaqueAccessTokens: config.AUTH_INTROSPECTION === 'on'
  })
  if (new URL(issuer).protocol === 'https:') provider.proxy = true
  let upstream: Upstream | null = null
  if (config.AUTH_UPSTREAM_ISSUER !== undefined) {
    let scopeMap: Record<string, string[]>
    try {
      scopeMap = parseScopeMap(config.AUTH_UPSTREAM_SCOPE_MAP)
    } catch {
      throw new ConfigError('invalid AUTH_UPSTREAM_SCOPE_MAP: must be JSON such as {"compliance-analysts": ["sanctions:screen", "risk:read"]}')
    }
    const upstreamHost = new URL(config.AUTH_UPSTREAM_ISSUER).hostname
    upstream = new Upstream({
      issuer: config.AUTH_UPSTREAM_ISSUER,
      clientId: config.AUTH_UPSTREAM_CLIENT_ID as string,
      clientSecret: config.AUTH_UPSTREAM_CLIENT_SECRET as string,
      scopeMap,
      ownIssuer: issuer,
      provider,
      store,
      audit,
      allowHttp: development && ['127.0.0.1', 'localhost', '[::1]'].includes(upstreamHost)
    })
  }

  const base = {
    issuer,
    audience: resource,
    resourceMetadata: {
      authorizationServers: config.AUTH_AUTHORIZATION_SERVERS ?? [issuer],
      resource,
      resourceDocumentation: 'https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization'
    }
  }
  const auth: AuthOptions = config.AUTH_INTROSPECTION === 'on'
    ? { ...base, cacheSize: 0, verifier: introspectionVerifier({ url: `${issuer}/token/introspection`, clientId: INTROSPECTION_CLIENT, clientSecret: introspectionSecret, audience: resource, cacheSeconds: 0 }) }
    : { ...base, jwks: { url: `${issuer}/jwks` } }

  let devToken: string | null = null
  if (development) {
    const key = await importJWK(first, 'ES256')
    devToken = await new SignJWT({ scope: ALL_SCOPES.join(' '), client_id: 'development-banner' })
      .setProtectedHeader({ alg: 'ES256', kid: String(first.kid), typ: 'at+jwt' })
      .setIssuer(issuer).setAudience(resource).setSubject(DEV_USER).setIssuedAt().setJti(crypto.randomUUID()).setExpirationTime('12h')
      .sign(key)
  }

  return {
    auth,
    issuer,
    devToken,
    devPassword,
    register: async (app) => {
      await registerOAuthRoutes(app, {
        provider,
        users,
        scopesOf: async (accountId) => (await upstream?.scopesOf(accountId)) ?? (await users.find(accountId))?.scopes ?? null,
        audit,
        csrfSecret: derive(secret, 'csrf'),
        failures: o.failures,
        upstream: upstream === null ? undefined : { start: async (request, reply, uid) => await (upstream as Upstream).start(request, reply, uid), register: (app) => { (upstream as Upstream).register(app) } }
      })
    }
  }
}
