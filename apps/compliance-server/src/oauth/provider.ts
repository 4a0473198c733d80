import Provider, { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import { adapterFor } from './adapter.js'
import type { AuditAuthEvent } from './audit.js'
import type { OidcStateStore } from './state-store.js'

export interface ProviderOptions {
  /** `${origin}/oauth` */
  issuer: string
  /** The MCP endpoint: the only resource (RFC 8707) and the access tokens' audience. */
  resource: string
  scopes: readonly string[]
  store: OidcStateStore
  jwks: { keys: Array<Record<string, unknown>> }
  cookieKeys: string[]
  accessTokenTtlSeconds: number
  registration: 'open' | 'token' | 'off'
  registrationToken?: string | undefined
  clients: ClientMetadata[]
  /** Loopback targets for Client ID Metadata Documents (development and tests only). */
  development: boolean
  audit: AuditAuthEvent
  /**
   * Opaque access tokens, checked by the resource through RFC 7662 introspection (AUTH_INTROSPECTION=on):
   * oidc-provider neither introspects nor revokes JWT access tokens, and a revoked opaque one is refused at once.
   */
  opaqueAccessTokens?: boolean
  /** How Client ID Metadata Documents are fetched (tests: a CA for a self-signed loopback server). */
  fetch?: typeof fetch | undefined
}

/**
 * Client ID Metadata Documents: oidc-provider's experimental implementation of
 * draft-ietf-oauth-client-id-metadata-document, acknowledged at the draft it names ("draft-02");
 * an oidc-provider upgrade that moves to another draft refuses to start until this is reviewed.
 */
export const CIMD_DRAFT_ACK = 'draft-02'

/** Redirect URIs an MCP client may register: https anywhere, http only on a loopback host. */
export function acceptableRedirectUri (uri: string): boolean {
  let u: URL
  try { u = new URL(uri) } catch { return false }
  if (u.protocol === 'https:') return true
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)
}

const clientOf = (ctx: KoaContextWithOIDC): string | null => ctx.oidc?.client?.clientId ?? null

/** The built-in authorization server: authorization code + PKCE S256, JWT access tokens for the MCP endpoint, refresh rotation. */
export function createProvider (o: ProviderOptions): Provider {
  const resourceServer = {
    scope: o.scopes.join(' '),
    audience: o.resource,
    accessTokenTTL: o.accessTokenTtlSeconds,
    ...(o.opaqueAccessTokens === true
      ? { accessTokenFormat: 'opaque' as const }
      : { accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: 'ES256' as const } } })
  }
  const configuration: Configuration = {
    adapter: adapterFor(o.store),
    clients: o.clients,
    jwks: o.jwks as Configuration['jwks'],
    cookies: { keys: o.cookieKeys },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/oauth/interaction/${interaction.uid}` },
    scopes: ['openid', 'offline_access'],
    claims: { openid: ['sub'] },
    pkce: { required: () => true },
    responseTypes: ['code'],
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256' },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: o.accessTokenTtlSeconds, AuthorizationCode: 60, Interaction: 600, Session: 14 * 86400, Grant: 14 * 86400, RefreshToken: 14 * 86400, IdToken: 3600 },
    extraClientMetadata: {
      // Called once per client whatever its metadata: the place to hold every client to the redirect URI policy.
      properties: ['mcp_redirect_policy'],
      validator (_ctx, key, _value, metadata) {
        if (key !== 'mcp_redirect_policy') return
        const bad = (metadata.redirect_uris ?? []).find((u) => !acceptableRedirectUri(u))
        if (bad !== undefined) throw new errors.InvalidRedirectUri(`redirect_uris must be https, or http on a loopback host (${bad})`)
      }
    },
    // oidc-provider fetches documents with a 2.5 s timeout, a 5 KiB limit and a dispatcher that
    // refuses special-use addresses (private, loopback, link-local); development lifts only the last.
    ...(o.fetch !== undefined
      ? { fetch: o.fetch }
      : o.development ? { fetch: async (url: string | URL | Request, init?: RequestInit & { dispatcher?: unknown }) => { if (init !== undefined) delete init.dispatcher; return await fetch(url, init) } } : {}),
    features: {
      devInteractions: { enabled: false },
      clientIdMetadataDocument: { enabled: true, ack: CIMD_DRAFT_ACK, cacheDuration: { min: 30, max: 86400 } },
      revocation: { enabled: true },
      introspection: { enabled: true },
      registration: o.registration === 'off'
        ? { enabled: false }
        : { enabled: true, initialAccessToken: o.registration === 'token' ? (o.registrationToken as string) : false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => o.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== o.resource) throw new errors.InvalidTarget(`the only resource served here is ${o.resource}`)
          return resourceServer
        }
      }
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html'
      ctx.body = `<!doctype html><meta charset="utf-8"><title>Sign-in error</title><h1>Sign-in error</h1><p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`
    }
  }
  const provider = new Provider(o.issuer, configuration)
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const type = String(ctx.oidc.params?.grant_type ?? '')
    const token = ctx.oidc.entities.AccessToken
    void o.audit({ event: type === 'refresh_token' ? 'refresh' : 'token', username: token?.accountId ?? null, clientId: clientOf(ctx), scopes: typeof token?.scope === 'string' ? token.scope.split(' ').filter((s) => s !== '') : [] })
  })
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error) => {
    void o.audit({ event: 'failure', clientId: clientOf(ctx), reason: `token: ${errorText(err)}` })
  })
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC) => {
    void o.audit({ event: 'revocation', clientId: clientOf(ctx) })
  })
  provider.on('authorization.error', (ctx: KoaContextWithOIDC, err: Error) => {
    void o.audit({ event: 'failure', clientId: clientOf(ctx), reason: `authorization: ${errorText(err)}` })
  })
  provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    void o.audit({ event: 'registration', clientId: client.clientId, ip: ctx.ip })
  })
  provider.on('registration_create.error', (ctx: KoaContextWithOIDC, err: Error) => {
    void o.audit({ event: 'failure', reason: `registration: ${errorText(err)}`, ip: ctx.ip })
  })
  return provider
}

function errorText (err: Error): string {
  const e = err as Error & { error?: string, error_description?: string }
  return [e.error ?? err.name, e.error_description].filter((x) => x !== undefined).join(': ')
}

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}
