import t from 'tap'
import { createServer } from 'node:http'
import Provider from 'oidc-provider'
import { authorizationUrl, Browser, formOf, freePort, pkce, REDIRECT, register, startBuiltin, tokenRequest } from './helpers/oauth.js'

/** A second oidc-provider on loopback standing in for the company's identity provider; its users are in the group "compliance-analysts". */
async function companyProvider (t: { teardown: (fn: () => unknown) => void }, redirectUri: string): Promise<string> {
  const port = await freePort()
  // localhost, not 127.0.0.1: cookies ignore ports, and both servers name theirs _interaction.
  const issuer = `http://localhost:${port}`
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'compliance-service', client_secret: 'company-secret-0123456789-abcdefgh', redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, preferred_username: sub, groups: ['compliance-analysts', 'staff'] }) }),
    cookies: { keys: ['company-cookie-key-for-tests'] }
  })
  const server = createServer(provider.callback())
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  return issuer
}

t.test('federation: the user signs in at the company provider; its group maps to the service scopes; the client registered with the service', async (t) => {
  const port = await freePort()
  const ownIssuer = `http://127.0.0.1:${port}/oauth`
  const upstream = await companyProvider(t, `${ownIssuer}/upstream/callback`)
  const s = await startBuiltin(t, {
    PORT: String(port),
    AUTH_UPSTREAM_ISSUER: upstream,
    AUTH_UPSTREAM_CLIENT_ID: 'compliance-service',
    AUTH_UPSTREAM_CLIENT_SECRET: 'company-secret-0123456789-abcdefgh',
    AUTH_UPSTREAM_SCOPE_MAP: JSON.stringify({ 'compliance-analysts': ['sanctions:screen', 'risk:read'], auditors: ['cases:read'] })
  })
  const { client_id: clientId } = await (await register(s.issuer)).json() as { client_id: string }
  const browser = new Browser()
  const p = pkce()
  const login = await browser.follow(authorizationUrl(s.issuer, clientId, { challenge: p.challenge, resource: s.url, scope: 'sanctions:screen risk:read cases:read' }))
  const choose = formOf(await login.res.text(), /\/upstream$/)
  // At the company: its own (development) login and consent pages.
  const atCompany = await browser.follow(new URL(choose.action, s.origin).href, { form: choose.fields })
  t.ok(atCompany.url.startsWith(upstream), 'sent to the company provider')
  const companyLogin = formOf(await atCompany.res.text(), /\/interaction\//)
  const companyConsent = await browser.follow(new URL(companyLogin.action, upstream).href, { form: { ...companyLogin.fields, login: 'carol', password: 'any' } })
  const consentForm = formOf(await companyConsent.res.text(), /\/interaction\//)
  const back = await browser.follow(new URL(consentForm.action, upstream).href, { form: consentForm.fields })
  // Back at the service: its consent page, with the scopes the group maps to.
  t.match(back.url, new RegExp(`^${s.origin}/oauth/interaction/`))
  const consentHtml = await back.res.text()
  t.match(consentHtml, /upstream:carol/)
  t.match(consentHtml, /Not granted[^<]*<code>cases:read<\/code>/)
  const ours = formOf(consentHtml, /\/confirm$/)
  const done = await browser.follow(new URL(ours.action, s.origin).href, { form: ours.fields }, REDIRECT)
  const code = new URL(done.url).searchParams.get('code') as string
  const tok = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT, client_id: clientId, resource: s.url })
  t.equal(tok.status, 200)
  t.same(String(tok.body.scope).split(' ').sort(), ['risk:read', 'sanctions:screen'])
})
