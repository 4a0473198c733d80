import type { Test } from 'tap'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2, UnauthorizedError as UnauthorizedErrorV2, type OAuthClientProvider as ProviderV2 } from '@modelcontextprotocol/client'
import { Browser, DEV_PASSWORD, REDIRECT, signIn, type Started } from './oauth.js'

export class TestProviderV2 implements ProviderV2 {
  info: Awaited<ReturnType<ProviderV2['clientInformation']>>
  saved: Awaited<ReturnType<ProviderV2['tokens']>>
  verifier = ''
  authorizationUrl: URL | null = null
  constructor (readonly clientMetadataUrl?: string) {}
  get redirectUrl (): string { return REDIRECT }
  get clientMetadata (): ProviderV2['clientMetadata'] {
    return { client_name: 'SDK v2 test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }
  }

  clientInformation (): Awaited<ReturnType<ProviderV2['clientInformation']>> { return this.info }
  saveClientInformation (info: NonNullable<Awaited<ReturnType<ProviderV2['clientInformation']>>>): void { this.info = info }
  tokens (): Awaited<ReturnType<ProviderV2['tokens']>> { return this.saved }
  saveTokens (tokens: NonNullable<Awaited<ReturnType<ProviderV2['tokens']>>>): void { this.saved = tokens }
  redirectToAuthorization (url: URL): void { this.authorizationUrl = url }
  saveCodeVerifier (v: string): void { this.verifier = v }
  codeVerifier (): string { return this.verifier }
}

/** The v2 client's whole flow from a 401: authorization URL, sign-in forms, tools as the signed-in user. */
export async function v2Flow (t: Test, s: Started, provider: TestProviderV2): Promise<void> {
  const first = new ClientV2({ name: 'v2', version: '1' })
  const err = await first.connect(new TransportV2(new URL(s.url), { authProvider: provider })).catch((e: unknown) => e)
  t.ok(err instanceof UnauthorizedErrorV2, `the first connect needs the user (${String(err)})`)
  const authUrl = provider.authorizationUrl as URL
  t.equal(authUrl.searchParams.get('code_challenge_method'), 'S256')
  const back = new URL(await signIn(new Browser(), authUrl.href, s.origin, REDIRECT, 'analyst', DEV_PASSWORD))
  const transport = new TransportV2(new URL(s.url), { authProvider: provider })
  t.equal(back.searchParams.get('iss'), s.issuer, 'RFC 9207 iss in the authorization response')
  await transport.finishAuth(back.searchParams)
  const client = new ClientV2({ name: 'v2', version: '1' })
  await client.connect(transport)
  t.equal((await client.listTools()).tools.length, 14)
  const r = await client.callTool({ name: 'country_risk', arguments: { country: 'Burma' } })
  t.match(r.structuredContent, { audit: { caller: { subject: 'analyst' } } })
  await client.close()
}

