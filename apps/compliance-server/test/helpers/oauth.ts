import { oauthStores } from '../../src/records/oauth.js'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { setupBuiltinAuth } from '../../src/oauth/index.js'
import { createServices } from '../../src/services.js'

export const DEV_PASSWORD = 'dev-password-for-tests'

/** A free loopback port: the issuer and the resource are URLs, so they must be known before the app is built. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => { resolve(port) })
    })
  })
}

export interface Started { app: FastifyInstance, url: string, origin: string, issuer: string, dir: string, auditRecords: () => Promise<Array<Record<string, unknown>>>, devToken: string | null, signingKey: () => Promise<Record<string, unknown>> }

export async function startBuiltin (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}, options: { fetch?: typeof fetch } = {}): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth-'))
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT)
  const config = loadConfig({ HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dir, LOG_LEVEL: 'silent', AUTH_DEV_PASSWORD: DEV_PASSWORD, ...env })
  const services = await createServices(config)
  const builtin = await setupBuiltinAuth(config, { audit: services.records, ...oauthStores(services.records.db), ...options })
  const app = await buildApp({ config, auth: builtin.auth, services, logger: false, oauth: builtin })
  t.teardown(async () => { await app.close(); await services.records.close().catch(() => {}) })
  await app.listen({ port, host: '127.0.0.1' })
  /** The audit chain's records, oldest first (from the records store). */
  const auditRecords = async (): Promise<Array<Record<string, unknown>>> => {
    const out: Array<Record<string, unknown>> = []
    for await (const line of services.records.lines()) if ('record' in line) out.push(line.record as Record<string, unknown>)
    return out
  }
  /** The private key that signs now (the active key of the ring in the records store). */
  const signingKey = async (): Promise<Record<string, unknown>> => {
    const active = (await oauthStores(services.records.db).keys.update(async (rows) => rows)).find((r) => r.state === 'active')
    return { ...active?.jwk, kid: active?.kid }
  }
  const origin = `http://127.0.0.1:${port}`
  return { app, url: `${origin}/mcp`, origin, issuer: builtin.issuer, dir, auditRecords, devToken: builtin.devToken, signingKey }
}

/** A cookie-jar HTTP client that follows redirects by hand (like a browser without JavaScript). */
export class Browser {
  /** Per host name (cookies ignore ports, as in a browser). */
  readonly jars = new Map<string, Map<string, string>>()

  async request (url: string, init: { method?: string, form?: Record<string, string> } = {}): Promise<Response> {
    const host = new URL(url).hostname
    const jar = this.jars.get(host) ?? new Map<string, string>()
    this.jars.set(host, jar)
    const headers: Record<string, string> = {}
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    let body: string | undefined
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }
    const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const i = (pair as string).indexOf('=')
      const name = (pair as string).slice(0, i).trim()
      const value = (pair as string).slice(i + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name)
      else jar.set(name, value)
    }
    return res
  }

  /** Follows redirects until one leaves the server (the client's redirect URI) or a page answers. */
  async follow (url: string, init: { method?: string, form?: Record<string, string> } = {}, stopAt?: string): Promise<{ url: string, res: Response }> {
    let res = await this.request(url, init)
    let at = url
    for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
      at = new URL(res.headers.get('location') as string, at).href
      if (stopAt !== undefined && at.startsWith(stopAt)) return { url: at, res }
      res = await this.request(at)
    }
    return { url: at, res }
  }
}

export function formOf (html: string, action: RegExp): { action: string, fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)]
  const form = forms.find((f) => action.test(f[1] as string))
  if (form === undefined) throw new Error(`no form with action ${String(action)} in ${html.slice(0, 400)}`)
  const fields: Record<string, string> = {}
  for (const m of (form[2] as string).matchAll(/<input([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(m[1] as string)?.[1]
    if (name !== undefined) fields[name] = /value="([^"]*)"/.exec(m[1] as string)?.[1] ?? ''
  }
  return { action: (form[1] as string).replace(/&amp;/g, '&'), fields }
}

/** Signs in through the HTML forms and consents; returns the final redirect (with ?code=). */
export async function signIn (browser: Browser, authorizationUrl: string, origin: string, redirectUri: string, username: string, password: string): Promise<string> {
  const login = await browser.follow(authorizationUrl, {}, redirectUri)
  if (login.url.startsWith(redirectUri)) return login.url
  const loginForm = formOf(await login.res.text(), /\/login$/)
  const afterLogin = await browser.follow(new URL(loginForm.action, origin).href, { form: { ...loginForm.fields, username, password } }, redirectUri)
  if (afterLogin.url.startsWith(redirectUri)) return afterLogin.url
  const consentHtml = await afterLogin.res.text()
  const consent = formOf(consentHtml, /\/confirm$/)
  const done = await browser.follow(new URL(consent.action, origin).href, { form: consent.fields }, redirectUri)
  if (!done.url.startsWith(redirectUri)) throw new Error(`sign-in did not come back to the client: ${done.res.status} ${(await done.res.text()).slice(0, 300)}`)
  return done.url
}

export const REDIRECT = 'http://127.0.0.1:9/callback'

export function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export async function register (issuer: string, metadata: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ client_name: 'test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...metadata })
  })
}

export function authorizationUrl (issuer: string, clientId: string, o: { challenge?: string, resource?: string, scope?: string, redirectUri?: string, method?: string }): string {
  const u = new URL(`${issuer}/auth`)
  u.searchParams.set('response_type', 'code')
  u.searchParams.set('client_id', clientId)
  u.searchParams.set('redirect_uri', o.redirectUri ?? REDIRECT)
  u.searchParams.set('state', 'st-1')
  if (o.scope !== undefined) u.searchParams.set('scope', o.scope)
  if (o.resource !== undefined) u.searchParams.set('resource', o.resource)
  if (o.challenge !== undefined) {
    u.searchParams.set('code_challenge', o.challenge)
    u.searchParams.set('code_challenge_method', o.method ?? 'S256')
  }
  return u.href
}

export async function tokenRequest (issuer: string, params: Record<string, string>): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}
