import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, fetch as undiciFetch } from 'undici'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { authorizationUrl, Browser, DEV_PASSWORD, pkce, REDIRECT, signIn, startBuiltin } from './helpers/oauth.js'
import { TestProviderV2, v2Flow } from './helpers/sdk-v2.js'

/** A self-signed certificate for 127.0.0.1, made for this run (no key is ever committed). */
async function selfSigned (): Promise<{ key: string, cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cimd-tls-'))
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') }
}

async function metadataServer (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, ca: string, hits: () => number }> {
  const tls = await selfSigned()
  let hits = 0
  let url = ''
  const server = createServer(tls, (req, res) => {
    hits++
    if (req.url !== '/client.json') { res.statusCode = 404; res.end(); return }
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'max-age=300')
    res.end(JSON.stringify({ client_id: url, client_name: 'CIMD test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}/client.json`
  return { url, ca: tls.cert, hits: () => hits }
}

t.test('Client ID Metadata Document: an https client_id fetched from a self-signed server on loopback (development), then the v2 SDK flow', async (t) => {
  const doc = await metadataServer(t)
  const agent = new Agent({ connect: { ca: doc.ca } })
  t.teardown(async () => { await agent.close() })
  const trusted = (async (url: string | URL | Request, init?: RequestInit) => await undiciFetch(url as string, { ...init as object, dispatcher: agent })) as unknown as typeof fetch
  const s = await startBuiltin(t, {}, { fetch: trusted })
  const metadata = await (await fetch(`${s.origin}/.well-known/oauth-authorization-server/oauth`)).json() as Record<string, unknown>
  t.equal(metadata.client_id_metadata_document_supported, true)
  const provider = new TestProviderV2(doc.url)
  await v2Flow(t, s, provider)
  t.equal(provider.info?.client_id, doc.url, 'the URL is the client id: no registration')
  t.equal(doc.hits(), 1, 'fetched once, then cached')
})

t.test('outside development a loopback metadata document is never fetched (SSRF protection)', async (t) => {
  const doc = await metadataServer(t)
  const s = await startBuiltin(t, { NODE_ENV: 'production', AUTH_MODE: 'builtin', AUTH_REGISTRATION: 'off' })
  const res = await new Browser().request(authorizationUrl(s.issuer, doc.url, { challenge: pkce().challenge, resource: s.url, scope: 'sanctions:screen' }))
  t.equal(res.status, 400)
  t.match(await res.text(), /invalid_client/)
  t.equal(doc.hits(), 0, 'no request reached the loopback server')
})

t.test('a pre-registered confidential client from AUTH_CLIENTS_FILE (id and secret typed by the user)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'clients-'))
  const file = join(dir, 'clients.json')
  const secret = 'a-client-secret-typed-into-claude-0123456789'
  await writeFile(file, JSON.stringify({ clients: [{ client_id: 'claude-connector', client_secret: secret, client_name: 'Claude', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' }] }))
  const s = await startBuiltin(t, { AUTH_CLIENTS_FILE: file, AUTH_REGISTRATION: 'off' })
  const p = pkce()
  const back = new URL(await signIn(new Browser(), authorizationUrl(s.issuer, 'claude-connector', { challenge: p.challenge, resource: s.url, scope: 'sanctions:screen' }), s.origin, REDIRECT, 'analyst', DEV_PASSWORD))
  const exchange = async (auth: string): Promise<Response> => await fetch(`${s.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code') as string, code_verifier: p.verifier, redirect_uri: REDIRECT, resource: s.url })
  })
  t.equal((await exchange('claude-connector:wrong')).status, 401, 'a wrong secret is refused')
  const ok = await exchange(`claude-connector:${secret}`)
  t.equal(ok.status, 200)
  const body = await ok.json() as { access_token: string }
  const client = new Client({ name: 'pre-registered', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { authorization: `Bearer ${body.access_token}` } } }))
  const r = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Kim Jong Un' } })
  t.match(r.structuredContent, { audit: { caller: { subject: 'analyst', clientId: 'claude-connector' } } })
  await client.close()
})
