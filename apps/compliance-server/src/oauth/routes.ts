import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import type { AuditAuthEvent } from './audit.js'
import { consentPage, loginPage } from './pages.js'
import type { UserDirectory } from './users.js'

export interface OAuthRoutesOptions {
  provider: Provider
  users: UserDirectory
  /** The scopes an account holds (local user or federated); null when unknown. */
  scopesOf: (accountId: string) => Promise<string[] | null>
  audit: AuditAuthEvent
  csrfSecret: string
  /** Failed sign-ins per username before it is locked, and for how long. */
  lockout?: { failures: number, windowMs: number }
  /** Where failed sign-ins are counted (the records store, shared by instances); this process's memory when omitted. */
  failures?: FailureCounter | undefined
  /** Dynamic client registrations per client address per hour. Default 30. */
  registrationsPerHour?: number
  /** Sign-in attempts per client address per minute. */
  attemptsPerMinute?: number
  /** The upstream sign-in (federation), when configured. */
  upstream?: { start: (request: FastifyRequest, reply: FastifyReply, uid: string) => Promise<unknown>, register: (app: FastifyInstance) => void } | undefined
}

interface Form { csrf?: string, username?: string, password?: string }

/** Failed sign-ins per key (username) in a fixed window that starts with the first failure. */
export interface FailureCounter {
  count: (key: string) => Promise<number>
  /** Counts one more failure; the count in the current window. */
  add: (key: string, windowMs: number) => Promise<number>
  clear: (key: string) => Promise<void>
}

/** A fixed window counter per key, bounded so that a flood of keys cannot grow it forever. */
class Counter {
  readonly #hits = new Map<string, { n: number, until: number }>()
  constructor (readonly windowMs: number, readonly max = 50_000) {}
  count (key: string): number { const e = this.#hits.get(key); return e === undefined || e.until <= Date.now() ? 0 : e.n }
  add (key: string, windowMs = this.windowMs): number {
    const now = Date.now()
    let e = this.#hits.get(key)
    if (e === undefined || e.until <= now) {
      if (this.#hits.size >= this.max) this.#hits.delete(this.#hits.keys().next().value as string)
      e = { n: 0, until: now + windowMs }
      this.#hits.set(key, e)
    }
    e.n += 1
    return e.n
  }

  clear (key: string): void { this.#hits.delete(key) }
}

function memoryFailures (c: Counter): FailureCounter {
  return { count: async (k) => c.count(k), add: async (k, w) => c.add(k, w), clear: async (k) => { c.clear(k) } }
}

/**
 * Mounts oidc-provider under /oauth (its own body parsing: Fastify's parsers are removed there),
 * the RFC 8414 path-inserted metadata URL, and the sign-in and consent pages.
 */
export async function registerOAuthRoutes (app: FastifyInstance, o: OAuthRoutesOptions): Promise<void> {
  const callback = o.provider.callback()
  const handOver = (request: FastifyRequest, reply: FastifyReply, url: string): void => {
    reply.hijack()
    const raw = request.raw as FastifyRequest['raw'] & { originalUrl?: string }
    raw.originalUrl = url
    raw.url = url.slice('/oauth'.length) === '' ? '/' : url.slice('/oauth'.length)
    void callback(raw, reply.raw)
  }
  await app.register(async (child) => {
    child.removeAllContentTypeParsers()
    child.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    const toProvider = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => { handOver(request, reply, request.raw.url ?? '/') }
    child.all('/oauth', toProvider)
    child.all('/oauth/*', toProvider)
    // RFC 8414 puts the issuer's path after the well-known name; oidc-provider serves it at the issuer's own path.
    child.get('/.well-known/oauth-authorization-server/oauth', async (request, reply) => { handOver(request, reply, '/oauth/.well-known/openid-configuration') })
    child.get('/.well-known/openid-configuration/oauth', async (request, reply) => { handOver(request, reply, '/oauth/.well-known/openid-configuration') })
  })

  // Dynamic Client Registration: rate-limited per address; a client's `scope` names the service's
  // resource scopes, which oidc-provider knows per resource and not as client metadata, so only the
  // OpenID ones are kept (what a user is granted is decided at consent, from the scopes the user holds).
  const registrations = new Counter(60 * 60_000)
  const registrationsPerHour = o.registrationsPerHour ?? 30
  await app.register(async (child) => {
    child.post('/oauth/reg', { bodyLimit: 16_384 }, async (request, reply) => {
      if (registrations.add(request.ip) > registrationsPerHour) {
        void o.audit({ event: 'failure', reason: 'registration: rate limit', ip: request.ip })
        return await reply.code(429).send({ error: 'too_many_requests', error_description: 'too many client registrations from this address' })
      }
      const body = request.body
      if (typeof body === 'object' && body !== null && typeof (body as { scope?: unknown }).scope === 'string') {
        const b = body as { scope?: string }
        const kept = (b.scope as string).split(' ').filter((x) => x === 'openid' || x === 'offline_access')
        if (kept.length === 0) delete b.scope
        else b.scope = kept.join(' ')
      }
      ;(request.raw as FastifyRequest['raw'] & { body?: unknown }).body = body
      handOver(request, reply, request.raw.url ?? '/oauth/reg')
    })
  })

  const lock = o.lockout ?? { failures: 5, windowMs: 15 * 60_000 }
  const failures: FailureCounter = o.failures ?? memoryFailures(new Counter(lock.windowMs))
  const attempts = new Counter(60_000)
  const perMinute = o.attemptsPerMinute ?? 20
  const csrfFor = (uid: string): string => createHmac('sha256', o.csrfSecret).update(`interaction:${uid}`).digest('base64url')
  const csrfOk = (uid: string, given: unknown): boolean => {
    if (typeof given !== 'string') return false
    const a = Buffer.from(csrfFor(uid))
    const b = Buffer.from(given)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  await app.register(async (child) => {
    child.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    })
    child.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'")
      reply.header('x-frame-options', 'DENY')
      reply.header('referrer-policy', 'no-referrer')
    })
    const html = (reply: FastifyReply, code: number, body: string): FastifyReply => reply.code(code).type('text/html; charset=utf-8').send(body)
    const details = async (request: FastifyRequest, reply: FastifyReply): Promise<Awaited<ReturnType<Provider['interactionDetails']>> | null> => {
      try {
        return await o.provider.interactionDetails(request.raw, reply.raw)
      } catch {
        return null
      }
    }
    const clientName = async (clientId: unknown): Promise<string> => {
      const client = await o.provider.Client.find(String(clientId)).catch(() => undefined)
      return String(client?.clientName ?? clientId)
    }
    const expired = (reply: FastifyReply): FastifyReply => html(reply, 400, '<!doctype html><meta charset="utf-8"><title>Sign-in expired</title><p>This sign-in has expired or belongs to another browser. Start again from your application.</p>')

    const showConsent = async (reply: FastifyReply, d: NonNullable<Awaited<ReturnType<typeof details>>>): Promise<FastifyReply> => {
      const accountId = d.session?.accountId as string
      const held = new Set(await o.scopesOf(accountId) ?? [])
      const { requested } = requestedScopes(d)
      return html(reply, 200, consentPage({
        uid: d.uid,
        csrf: csrfFor(d.uid),
        client: await clientName(d.params.client_id),
        user: accountId,
        scopes: requested.filter((s) => held.has(s) || s === 'openid' || s === 'offline_access'),
        withheld: requested.filter((s) => !held.has(s) && s !== 'openid' && s !== 'offline_access')
      }))
    }

    child.get<{ Params: { uid: string } }>('/oauth/interaction/:uid', async (request, reply) => {
      const d = await details(request, reply)
      if (d === null || d.uid !== request.params.uid) return expired(reply)
      if (d.prompt.name === 'login') {
        return html(reply, 200, loginPage({ uid: d.uid, csrf: csrfFor(d.uid), client: await clientName(d.params.client_id), upstream: o.upstream !== undefined }))
      }
      return await showConsent(reply, d)
    })

    child.post<{ Params: { uid: string }, Body: Form }>('/oauth/interaction/:uid/login', async (request, reply) => {
      const d = await details(request, reply)
      if (d === null || d.uid !== request.params.uid) return expired(reply)
      const client = String(d.params.client_id)
      const form = request.body ?? {}
      if (!csrfOk(d.uid, form.csrf)) {
        void o.audit({ event: 'failure', clientId: client, reason: 'sign-in: CSRF token missing or wrong', ip: request.ip })
        return html(reply, 403, '<!doctype html><meta charset="utf-8"><title>Refused</title><p>The form was not sent from this sign-in page.</p>')
      }
      const username = String(form.username ?? '').trim()
      const login = (error: string, code: number): FastifyReply => html(reply, code, loginPage({ uid: d.uid, csrf: csrfFor(d.uid), client, error, username, upstream: o.upstream !== undefined }))
      if (attempts.add(request.ip) > perMinute) {
        void o.audit({ event: 'sign-in-failed', username, clientId: client, reason: 'too many attempts from this address', ip: request.ip })
        return login('Too many sign-in attempts. Wait a minute and try again.', 429)
      }
      if (await failures.count(username) >= lock.failures) {
        void o.audit({ event: 'locked-out', username, clientId: client, ip: request.ip })
        return login('This account is locked after repeated failed sign-ins. Try again later.', 423)
      }
      const user = await o.users.authenticate(username, String(form.password ?? ''))
      if (user === null) {
        const n = await failures.add(username, lock.windowMs)
        void o.audit({ event: n >= lock.failures ? 'locked-out' : 'sign-in-failed', username, clientId: client, reason: 'wrong username or password', ip: request.ip })
        return login('Wrong username or password.', 401)
      }
      await failures.clear(username)
      void o.audit({ event: 'sign-in', username: user.username, clientId: client, ip: request.ip })
      const to = await o.provider.interactionResult(request.raw, reply.raw, { login: { accountId: user.username } }, { mergeWithLastSubmission: false })
      return reply.redirect(to, 303)
    })

    child.post<{ Params: { uid: string }, Body: Form }>('/oauth/interaction/:uid/confirm', async (request, reply) => {
      const d = await details(request, reply)
      if (d === null || d.uid !== request.params.uid || d.prompt.name !== 'consent' || d.session === undefined) return expired(reply)
      if (!csrfOk(d.uid, request.body?.csrf)) return html(reply, 403, '<!doctype html><meta charset="utf-8"><title>Refused</title><p>The form was not sent from this consent page.</p>')
      const accountId = d.session.accountId
      const clientId = String(d.params.client_id)
      const held = new Set(await o.scopesOf(accountId) ?? [])
      const grant = d.grantId === undefined ? new o.provider.Grant({ accountId, clientId }) : await o.provider.Grant.find(d.grantId)
      if (grant === undefined) return expired(reply)
      const { oidc, resources } = requestedScopes(d)
      if (oidc.length > 0) grant.addOIDCScope(oidc.join(' '))
      const granted: string[] = []
      for (const [resource, scopes] of resources) {
        const allowed = scopes.filter((s) => held.has(s))
        const withheld = scopes.filter((s) => !held.has(s))
        granted.push(...allowed)
        // An empty resource scope still records the resource, so the token names its audience.
        grant.addResourceScope(resource, allowed.join(' '))
        // Rejected scopes count as encountered: the consent prompt does not come back for them.
        if (withheld.length > 0) grant.rejectResourceScope(resource, withheld.join(' '))
      }
      const grantId = await grant.save()
      void o.audit({ event: 'consent', username: accountId, clientId, scopes: granted })
      const to = await o.provider.interactionResult(request.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true })
      return reply.redirect(to, 303)
    })

    child.post<{ Params: { uid: string }, Body: Form }>('/oauth/interaction/:uid/abort', async (request, reply) => {
      const d = await details(request, reply)
      if (d === null || d.uid !== request.params.uid) return expired(reply)
      if (!csrfOk(d.uid, request.body?.csrf)) return html(reply, 403, '<!doctype html><meta charset="utf-8"><title>Refused</title><p>The form was not sent from this page.</p>')
      void o.audit({ event: 'consent', username: d.session?.accountId ?? null, clientId: String(d.params.client_id), scopes: [], reason: 'denied' })
      const to = await o.provider.interactionResult(request.raw, reply.raw, { error: 'access_denied', error_description: 'the user denied access' }, { mergeWithLastSubmission: false })
      return reply.redirect(to, 303)
    })

    if (o.upstream !== undefined) {
      const upstream = o.upstream
      child.post<{ Params: { uid: string }, Body: Form }>('/oauth/interaction/:uid/upstream', async (request, reply) => {
        const d = await details(request, reply)
        if (d === null || d.uid !== request.params.uid) return expired(reply)
        if (!csrfOk(d.uid, request.body?.csrf)) return html(reply, 403, '<!doctype html><meta charset="utf-8"><title>Refused</title><p>The form was not sent from this sign-in page.</p>')
        return await upstream.start(request, reply, d.uid)
      })
      upstream.register(child)
    }
  })
}

/** The scopes still to consent to, split into OIDC scopes and resource scopes (per resource). */
function requestedScopes (d: Awaited<ReturnType<Provider['interactionDetails']>>): { oidc: string[], resources: Map<string, string[]>, requested: string[] } {
  const details = d.prompt.details as { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }
  const oidc = details.missingOIDCScope ?? []
  const resources = new Map(Object.entries(details.missingResourceScopes ?? {}))
  return { oidc, resources, requested: [...new Set([...oidc, ...[...resources.values()].flat()])] }
}
