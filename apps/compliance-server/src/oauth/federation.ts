import * as client from 'openid-client'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import type { AuditAuthEvent } from './audit.js'
import type { OidcStateStore } from './state-store.js'

export interface UpstreamOptions {
  issuer: string
  clientId: string
  clientSecret: string
  /** Group or role → scopes of this service. */
  scopeMap: Record<string, string[]>
  /** This server's issuer (`${origin}/oauth`): the callback is `${issuer}/upstream/callback`. */
  ownIssuer: string
  provider: Provider
  store: OidcStateStore
  audit: AuditAuthEvent
  /** http upstream allowed (loopback in development and tests only). */
  allowHttp: boolean
}

const PENDING = 'UpstreamLogin'
const ACCOUNT = 'FederatedAccount'

/** Parses AUTH_UPSTREAM_SCOPE_MAP: `{ "group": ["scope", ...] | "scope scope" }`. */
export function parseScopeMap (json: string | undefined): Record<string, string[]> {
  if (json === undefined) return {}
  const parsed = JSON.parse(json) as Record<string, unknown>
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v).split(/[\s,]+/).filter((x) => x !== '')]))
}

/** The groups and roles an upstream ID token or userinfo answer names (`groups`, `roles`, Keycloak's `realm_access.roles`). */
function groupsOf (claims: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const v of [claims.groups, claims.roles, (claims.realm_access as { roles?: unknown } | undefined)?.roles]) if (Array.isArray(v)) out.push(...v.map(String))
  return out
}

/** Sign-in at the company's OpenID Connect provider (authorization code + PKCE), its groups mapped to scopes. */
export class Upstream {
  readonly #o: UpstreamOptions
  #config: Promise<client.Configuration> | null = null
  constructor (o: UpstreamOptions) { this.#o = o }

  get callbackUrl (): string { return `${this.#o.ownIssuer}/upstream/callback` }

  async #configuration (): Promise<client.Configuration> {
    this.#config ??= client.discovery(new URL(this.#o.issuer), this.#o.clientId, this.#o.clientSecret, undefined, this.#o.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => { this.#config = null; throw err })
    return await this.#config
  }

  /** The scopes a federated account was given at its last sign-in; null when it is not one. */
  async scopesOf (accountId: string): Promise<string[] | null> {
    if (!accountId.startsWith('upstream:')) return null
    const record = await this.#o.store.find(ACCOUNT, accountId)
    return Array.isArray(record?.scopes) ? record.scopes as string[] : null
  }

  async start (_request: FastifyRequest, reply: FastifyReply, uid: string): Promise<FastifyReply> {
    const config = await this.#configuration()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    await this.#o.store.upsert(PENDING, state, { uid, verifier }, 600)
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl,
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state
    })
    return await reply.redirect(url.href, 303)
  }

  register (app: FastifyInstance): void {
    // The upstream comes back here, outside the interaction cookie's path: the code is exchanged and
    // the result kept server-side, then the browser goes on to the interaction with only the state.
    app.get<{ Querystring: Record<string, string> }>('/oauth/upstream/callback', async (request, reply) => {
      const state = request.query.state ?? ''
      const pending = await this.#o.store.find(PENDING, state)
      if (pending === undefined || typeof pending.uid !== 'string') return await reply.code(400).type('text/html').send('<!doctype html><title>Sign-in expired</title><p>This sign-in has expired. Start again from your application.</p>')
      try {
        const config = await this.#configuration()
        const current = new URL(request.url, this.#o.ownIssuer)
        const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: String(pending.verifier), expectedState: state })
        let claims: Record<string, unknown> = { ...tokens.claims() }
        if (groupsOf(claims).length === 0 && config.serverMetadata().userinfo_endpoint !== undefined) {
          claims = { ...claims, ...await client.fetchUserInfo(config, tokens.access_token, String(claims.sub)) }
        }
        const name = String(claims.preferred_username ?? claims.email ?? claims.sub)
        const scopes = [...new Set(groupsOf(claims).flatMap((g) => this.#o.scopeMap[g] ?? []))]
        await this.#o.store.upsert(PENDING, state, { uid: pending.uid, accountId: `upstream:${name}`, scopes }, 120)
      } catch (err) {
        await this.#o.store.destroy(PENDING, state)
        void this.#o.audit({ event: 'sign-in-failed', reason: `upstream: ${(err as Error).message}`, ip: request.ip })
        return await reply.code(502).type('text/html').send('<!doctype html><title>Sign-in failed</title><p>The company sign-in did not complete. Start again from your application.</p>')
      }
      return await reply.redirect(`/oauth/interaction/${encodeURIComponent(pending.uid)}/upstream-done?state=${encodeURIComponent(state)}`, 303)
    })

    app.get<{ Params: { uid: string }, Querystring: { state?: string } }>('/oauth/interaction/:uid/upstream-done', async (request, reply) => {
      const state = request.query.state ?? ''
      const done = await this.#o.store.find(PENDING, state)
      let details: Awaited<ReturnType<Provider['interactionDetails']>> | null = null
      try { details = await this.#o.provider.interactionDetails(request.raw, reply.raw) } catch { details = null }
      if (done === undefined || typeof done.accountId !== 'string' || details === null || details.uid !== request.params.uid || done.uid !== details.uid) {
        return await reply.code(400).type('text/html').send('<!doctype html><title>Sign-in expired</title><p>This sign-in has expired or belongs to another browser.</p>')
      }
      await this.#o.store.destroy(PENDING, state)
      const accountId = done.accountId
      await this.#o.store.upsert(ACCOUNT, accountId, { scopes: done.scopes }, 14 * 86400)
      void this.#o.audit({ event: 'sign-in', username: accountId, clientId: String(details.params.client_id), scopes: done.scopes as string[], reason: 'upstream', ip: request.ip })
      const to = await this.#o.provider.interactionResult(request.raw, reply.raw, { login: { accountId } }, { mergeWithLastSubmission: false })
      return await reply.redirect(to, 303)
    })
  }
}
