import t from 'tap'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { Browser, DEV_PASSWORD, signIn, startBuiltin } from './helpers/oauth.js'
import { TestProviderV2, v2Flow } from './helpers/sdk-v2.js'

const REDIRECT = 'http://127.0.0.1:9/callback'

class TestProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  authorizationUrl: URL | null = null
  get redirectUrl (): string { return REDIRECT }
  get clientMetadata (): OAuthClientMetadata {
    return { client_name: 'SDK v1 test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }
  }

  clientInformation (): OAuthClientInformationMixed | undefined { return this.info }
  saveClientInformation (info: OAuthClientInformationMixed): void { this.info = info }
  tokens (): OAuthTokens | undefined { return this.saved }
  saveTokens (tokens: OAuthTokens): void { this.saved = tokens }
  redirectToAuthorization (url: URL): void { this.authorizationUrl = url }
  saveCodeVerifier (v: string): void { this.verifier = v }
  codeVerifier (): string { return this.verifier }
}

t.test('SDK v1: 401 → discovery → DCR → sign-in and consent forms → tools as the signed-in user', async (t) => {
  const s = await startBuiltin(t)
  const provider = new TestProvider()
  const first = new Client({ name: 'v1', version: '1' })
  const err = await first.connect(new StreamableHTTPClientTransport(new URL(s.url), { authProvider: provider })).catch((e: unknown) => e)
  t.ok(err instanceof UnauthorizedError, `the first connect needs the user (${String(err)})`)
  t.ok(provider.info?.client_id, 'registered dynamically')
  const authUrl = provider.authorizationUrl as URL
  t.equal(authUrl.origin + authUrl.pathname, `${s.issuer}/auth`)
  t.equal(authUrl.searchParams.get('code_challenge_method'), 'S256')
  t.equal(authUrl.searchParams.get('resource'), s.url)

  const back = new URL(await signIn(new Browser(), authUrl.href, s.origin, REDIRECT, 'analyst', DEV_PASSWORD))
  const code = back.searchParams.get('code') as string
  t.ok(code, 'an authorization code comes back to the redirect URI')
  const transport = new StreamableHTTPClientTransport(new URL(s.url), { authProvider: provider })
  await transport.finishAuth(code)
  const claims = decodeJwt(provider.saved?.access_token as string)
  t.match(claims, { iss: s.issuer, aud: s.url, sub: 'analyst', client_id: provider.info?.client_id })
  t.ok((claims.exp as number) - (claims.iat as number) <= 600, 'access tokens live 10 minutes')
  t.ok(provider.saved?.refresh_token, 'a refresh token is issued')

  const client = new Client({ name: 'v1', version: '1' })
  await client.connect(transport)
  t.equal((await client.listTools()).tools.length, 14)
  const r = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Banco Nacional de Cuba' } })
  t.match(r.structuredContent, { audit: { caller: { subject: 'analyst', clientId: provider.info?.client_id } } })
  await client.close()

  const audit = await s.auditRecords()
  t.match(audit.filter((r) => r.kind === 'auth').map((r) => r.event), ['registration', 'sign-in', 'consent', 'token'])
  t.notOk(JSON.stringify(audit).includes(provider.saved?.access_token as string), 'no token in the audit log')
})

t.test('discovery: RFC 8414 and OpenID metadata; protected-resource metadata names the issuer', async (t) => {
  const s = await startBuiltin(t)
  const prm = await (await fetch(`${s.origin}/.well-known/oauth-protected-resource/mcp`)).json() as { authorization_servers: string[], resource: string }
  t.same(prm.authorization_servers, [s.issuer])
  for (const path of ['/.well-known/oauth-authorization-server/oauth', '/oauth/.well-known/openid-configuration']) {
    const res = await fetch(`${s.origin}${path}`)
    t.equal(res.status, 200, path)
    const m = await res.json() as Record<string, unknown>
    t.match(m, { issuer: s.issuer, registration_endpoint: `${s.issuer}/reg`, jwks_uri: `${s.issuer}/jwks`, revocation_endpoint: `${s.issuer}/token/revocation`, code_challenge_methods_supported: ['S256'] }, path)
  }
})

t.test('SDK v2: the same flow from a 401, registering dynamically', async (t) => {
  const s = await startBuiltin(t)
  const provider = new TestProviderV2()
  await v2Flow(t, s, provider)
  t.ok(provider.info?.client_id, 'registered dynamically')
})
