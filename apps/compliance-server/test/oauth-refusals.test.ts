import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeJwt, importJWK, SignJWT } from 'jose'
import { freshDatabase } from './records/helpers.js'
import { authorizationUrl, Browser, formOf, pkce, REDIRECT, register, signIn, startBuiltin, tokenRequest, type Started } from './helpers/oauth.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const ALICE_PASSWORD = 'correct horse battery staple'

function addUser (file: string, username: string, password: string, scopes: string): void {
  const r = spawnSync(process.execPath, [MAIN, 'add-user', username, '--scopes', scopes, '--users-file', file], { input: `${password}\nsecond line ignored\n`, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
}

async function withAlice (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<Started> {
  const s = await startBuiltin(t, env)
  const usersFile = join(s.dir, 'users.json')
  addUser(usersFile, 'alice', ALICE_PASSWORD, 'sanctions:screen risk:read')
  return s
}

async function client (s: Started): Promise<string> {
  const res = await register(s.issuer)
  return (await res.json() as { client_id: string }).client_id
}

async function codeFor (s: Started, clientId: string, username: string, password: string, scope: string): Promise<{ code: string, verifier: string }> {
  const p = pkce()
  const back = new URL(await signIn(new Browser(), authorizationUrl(s.issuer, clientId, { challenge: p.challenge, resource: s.url, scope }), s.origin, REDIRECT, username, password))
  return { code: back.searchParams.get('code') as string, verifier: p.verifier }
}

const ALL = 'sanctions:screen sanctions:read risk:read identifiers:validate alerts:triage alerts:decide cases:write cases:read'

t.test('add-user writes a scrypt hash (no password in the file) from the first line of standard input', async (t) => {
  const s = await withAlice(t)
  const users = JSON.parse(await readFile(join(s.dir, 'users.json'), 'utf8')) as { users: Array<{ username: string, passwordHash: string, scopes: string[] }> }
  t.match(users.users, [{ username: 'alice', passwordHash: /^scrypt\$/, scopes: ['sanctions:screen', 'risk:read'] }])
  t.notOk(JSON.stringify(users).includes('horse'))
})

t.test('a scope the user does not hold is never granted, whatever the client asks for', async (t) => {
  const s = await withAlice(t)
  const id = await client(s)
  const { code, verifier } = await codeFor(s, id, 'alice', ALICE_PASSWORD, ALL)
  const tok = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: id, resource: s.url })
  t.equal(tok.status, 200)
  t.same(String(tok.body.scope).split(' ').sort(), ['risk:read', 'sanctions:screen'])
  t.same(String(decodeJwt(tok.body.access_token as string).scope).split(' ').sort(), ['risk:read', 'sanctions:screen'])
  const denied = await fetch(s.url, { method: 'POST', headers: { authorization: `Bearer ${tok.body.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_case', arguments: { caseId: 'x' } } }) })
  t.not(denied.status, 200, 'a tool needing cases:read is refused')
})

t.test('wrong password, then repeated failures lock the account (audited); the right password is refused while locked', async (t) => {
  const s = await withAlice(t)
  const id = await client(s)
  const browser = new Browser()
  const p = pkce()
  const page = await browser.follow(authorizationUrl(s.issuer, id, { challenge: p.challenge, resource: s.url, scope: 'sanctions:screen' }))
  const form = formOf(await page.res.text(), /\/login$/)
  const action = new URL(form.action, s.origin).href
  const wrong = await browser.request(action, { form: { ...form.fields, username: 'alice', password: 'nope' } })
  t.equal(wrong.status, 401)
  t.match(await wrong.text(), /Wrong username or password/)
  for (let i = 0; i < 4; i++) await browser.request(action, { form: { ...form.fields, username: 'alice', password: `nope-${i}` } })
  const locked = await browser.request(action, { form: { ...form.fields, username: 'alice', password: ALICE_PASSWORD } })
  t.equal(locked.status, 423)
  t.match(await locked.text(), /locked/)
  const noCsrf = await browser.request(action, { form: { username: 'alice', password: ALICE_PASSWORD } })
  t.equal(noCsrf.status, 403, 'a form without the CSRF token is refused')
  const audit = await s.auditRecords()
  t.ok(audit.some((r) => r.event === 'sign-in-failed' && r.username === 'alice'))
  t.ok(audit.some((r) => r.event === 'locked-out' && r.username === 'alice'))
  t.notOk(JSON.stringify(audit).includes('nope'), 'no password in the audit log')
})

t.test('the lockout holds across instances on one PostgreSQL: failures on two instances add up', async (t) => {
  const DATABASE_URL = await freshDatabase(t)
  const [a, b] = [await withAlice(t, { DATABASE_URL }), await withAlice(t, { DATABASE_URL })]
  const signInForm = async (s: Started): Promise<(password: string) => Promise<number>> => {
    const browser = new Browser()
    const page = await browser.follow(authorizationUrl(s.issuer, await client(s), { challenge: pkce().challenge, resource: s.url, scope: 'sanctions:screen' }))
    const form = formOf(await page.res.text(), /\/login$/)
    return async (password) => {
      const res = await browser.request(new URL(form.action, s.origin).href, { form: { ...form.fields, username: 'alice', password } })
      await res.text()
      return res.status
    }
  }
  const onA = await signInForm(a)
  const onB = await signInForm(b)
  t.same([await onA('nope-1'), await onA('nope-2'), await onA('nope-3')], [401, 401, 401])
  t.same([await onB('nope-4'), await onB('nope-5')], [401, 401], 'B counts on from A\'s three failures')
  t.equal(await onA(ALICE_PASSWORD), 423, 'five failures over two instances lock the account on both')
  t.equal(await onB(ALICE_PASSWORD), 423)
})

t.test('PKCE missing, PKCE plain, PKCE wrong, an unregistered redirect URI, another resource: refused', async (t) => {
  const s = await withAlice(t)
  const id = await client(s)
  const browser = new Browser()
  const missing = await browser.request(authorizationUrl(s.issuer, id, { resource: s.url, scope: 'sanctions:screen' }))
  t.equal(missing.status, 303)
  t.match(missing.headers.get('location'), /^http:\/\/127\.0\.0\.1:9\/callback\?error=invalid_request&error_description=[^&]*PKCE/)
  const plain = await browser.request(authorizationUrl(s.issuer, id, { resource: s.url, scope: 'sanctions:screen', challenge: 'a'.repeat(43), method: 'plain' }))
  t.match(plain.headers.get('location'), /error=invalid_request/)
  const otherRedirect = await browser.request(authorizationUrl(s.issuer, id, { resource: s.url, scope: 'sanctions:screen', challenge: pkce().challenge, redirectUri: 'http://127.0.0.1:9/elsewhere' }))
  t.equal(otherRedirect.status, 400, 'no redirect to an unregistered URI')
  t.match(await otherRedirect.text(), /redirect_uri/)
  const otherResource = await browser.request(authorizationUrl(s.issuer, id, { resource: 'https://elsewhere.test/mcp', scope: 'sanctions:screen', challenge: pkce().challenge }))
  t.match(otherResource.headers.get('location'), /error=invalid_target/)

  const { code } = await codeFor(s, id, 'alice', ALICE_PASSWORD, 'sanctions:screen')
  const wrong = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code, code_verifier: pkce().verifier, redirect_uri: REDIRECT, client_id: id, resource: s.url })
  t.equal(wrong.status, 400)
  t.equal(wrong.body.error, 'invalid_grant')
})

t.test('a token for another audience, signed by the same server, is refused by /mcp', async (t) => {
  const s = await withAlice(t)
  const key = await s.signingKey()
  const sign = async (aud: string): Promise<string> => await new SignJWT({ scope: 'sanctions:screen', client_id: 'x' })
    .setProtectedHeader({ alg: 'ES256', kid: String(key.kid) }).setIssuer(s.issuer).setAudience(aud).setSubject('alice').setIssuedAt().setExpirationTime('5m')
    .sign(await importJWK(key, 'ES256'))
  const call = async (token: string): Promise<number> => (await fetch(s.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })).status
  t.equal(await call(await sign('https://elsewhere.test/mcp')), 401)
  t.not(await call(await sign(s.url)), 401, 'the same token for this resource is accepted (the check is the audience)')
})

t.test('refresh rotation: a reused refresh token is refused; a revoked one is refused at once', async (t) => {
  const s = await withAlice(t)
  const id = await client(s)
  const { code, verifier } = await codeFor(s, id, 'alice', ALICE_PASSWORD, 'sanctions:screen')
  const first = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: id, resource: s.url })
  const rt1 = first.body.refresh_token as string
  t.ok(rt1)
  const second = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: rt1, client_id: id, resource: s.url })
  t.equal(second.status, 200)
  const rt2 = second.body.refresh_token as string
  t.not(rt2, rt1, 'rotated')
  t.match(decodeJwt(second.body.access_token as string), { aud: s.url, sub: 'alice' })
  const reused = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: rt1, client_id: id, resource: s.url })
  t.equal(reused.status, 400)
  t.equal(reused.body.error, 'invalid_grant')

  const again = await codeFor(s, id, 'alice', ALICE_PASSWORD, 'sanctions:screen')
  const fresh = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code: again.code, code_verifier: again.verifier, redirect_uri: REDIRECT, client_id: id, resource: s.url })
  const revoke = await fetch(`${s.issuer}/token/revocation`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: fresh.body.refresh_token as string, client_id: id }) })
  t.equal(revoke.status, 200)
  const revoked = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: fresh.body.refresh_token as string, client_id: id, resource: s.url })
  t.equal(revoked.body.error, 'invalid_grant')
  const audit = await s.auditRecords()
  t.ok(audit.some((r) => r.event === 'refresh' && r.username === 'alice' && r.clientId === id))
  t.ok(audit.some((r) => r.event === 'revocation' && r.clientId === id))
})

t.test('registration policy: redirect URIs https or loopback only; token mode needs the initial access token; off answers 404', async (t) => {
  const s = await startBuiltin(t)
  const bad = await register(s.issuer, { redirect_uris: ['http://evil.test/cb'] })
  t.equal(bad.status, 400)
  t.equal((await bad.json() as { error: string }).error, 'invalid_redirect_uri')
  t.equal((await register(s.issuer, { redirect_uris: ['https://app.test/cb'] })).status, 201)

  const token = 'registration-token-of-at-least-32-characters'
  const guarded = await startBuiltin(t, { AUTH_REGISTRATION: 'token', AUTH_REGISTRATION_TOKEN: token })
  t.equal((await register(guarded.issuer)).status, 401)
  t.equal((await register(guarded.issuer, {}, { authorization: `Bearer ${token}` })).status, 201)

  const off = await startBuiltin(t, { AUTH_REGISTRATION: 'off' })
  t.equal((await register(off.issuer)).status, 404)
})
