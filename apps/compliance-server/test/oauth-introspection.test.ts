import t from 'tap'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { authorizationUrl, Browser, DEV_PASSWORD, pkce, REDIRECT, register, signIn, startBuiltin, tokenRequest } from './helpers/oauth.js'

t.test('AUTH_INTROSPECTION=on: opaque access tokens that the plugin checks by RFC 7662, so a revoked access token is refused at once', async (t) => {
  const s = await startBuiltin(t, { AUTH_INTROSPECTION: 'on' })
  const { client_id: clientId } = await (await register(s.issuer)).json() as { client_id: string }
  const p = pkce()
  const back = new URL(await signIn(new Browser(), authorizationUrl(s.issuer, clientId, { challenge: p.challenge, resource: s.url, scope: 'sanctions:screen' }), s.origin, REDIRECT, 'analyst', DEV_PASSWORD))
  const tok = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code') as string, code_verifier: p.verifier, redirect_uri: REDIRECT, client_id: clientId, resource: s.url })
  const access = tok.body.access_token as string
  t.equal(access.split('.').length, 1, 'opaque, not a JWT')
  const client = new Client({ name: 'introspected', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { authorization: `Bearer ${access}` } } }))
  const r = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Kim Jong Un' } })
  t.match(r.structuredContent, { audit: { caller: { subject: 'analyst', clientId } } })
  await client.close()

  const revoke = await fetch(`${s.issuer}/token/revocation`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: access, token_type_hint: 'access_token', client_id: clientId }) })
  t.equal(revoke.status, 200)
  const after = await fetch(s.url, { method: 'POST', headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) })
  t.equal(after.status, 401, 'refused right after revocation')
})
