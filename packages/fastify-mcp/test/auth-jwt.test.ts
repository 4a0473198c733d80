import t from 'tap'
import { createHmac } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { exportSPKI, generateKeyPair } from 'jose'
import fastifyMcp from '../src/index.js'
import { AUDIENCE, INIT, authApp, headers, identityProvider, makeKeys, sign } from './helpers/auth.js'

function challenge (res: { headers: Record<string, unknown> }): string {
  return String(res.headers['www-authenticate'] ?? '')
}

t.test('refusals: each invalid token is a 401 with the right challenge', async (t) => {
  const es = await makeKeys('ES256', 'es')
  const idp = await identityProvider([es])
  t.teardown(() => idp.close())
  const app = await authApp({ issuer: idp.issuer, audience: AUDIENCE, jwks: { url: idp.jwksUrl }, resourceMetadata: { authorizationServers: [idp.issuer] }, baselineScopes: ['tools:basic'] })
  t.teardown(() => app.close())
  const post = async (h: Record<string, string>, url = '/mcp'): Promise<{ statusCode: number, headers: Record<string, unknown>, body: string }> =>
    await app.inject({ method: 'POST', url, headers: h, payload: INIT })

  const missing = await post(headers(null))
  t.equal(missing.statusCode, 401, 'missing header')
  t.match(challenge(missing), /^Bearer realm="mcp"/)
  t.match(challenge(missing), /resource_metadata="http:\/\/127\.0\.0\.1:9999\/\.well-known\/oauth-protected-resource\/mcp"/)
  t.match(challenge(missing), /scope="tools:basic"/)
  t.notMatch(challenge(missing), /error=/, 'no error code without credentials')
  t.match(JSON.parse(missing.body), { jsonrpc: '2.0', error: { code: -32004 } })

  const basic = await post({ ...headers(null), authorization: 'Basic YWxpY2U6c2VjcmV0' })
  t.equal(basic.statusCode, 401, 'another scheme')
  t.notMatch(challenge(basic), /error=/)

  const malformed = await post({ ...headers(null), authorization: 'Bearer not a token' })
  t.equal(malformed.statusCode, 401, 'malformed header')
  t.match(challenge(malformed), /error="invalid_token"/)

  const garbage = await post(headers('abc.def.ghi'))
  t.equal(garbage.statusCode, 401, 'malformed token')
  t.match(challenge(garbage), /error="invalid_token"/)

  const good = await sign(es, idp.issuer, { scope: 'tools:basic' })
  const [h, p, s] = good.split('.') as [string, string, string]
  const badSig = await post(headers(`${h}.${p}.${s.slice(0, -4)}AAAA`))
  t.equal(badSig.statusCode, 401, 'bad signature')
  t.match(challenge(badSig), /error="invalid_token", error_description="the token signature is invalid"/)

  const expired = await post(headers(await sign(es, idp.issuer, { exp: Math.floor(Date.now() / 1000) - 60 })))
  t.equal(expired.statusCode, 401, 'expired')
  t.match(challenge(expired), /expired/)

  const early = await post(headers(await sign(es, idp.issuer, { nbf: Math.floor(Date.now() / 1000) + 600 })))
  t.equal(early.statusCode, 401, 'not yet valid')
  t.match(challenge(early), /not yet valid/)

  const wrongIss = await post(headers(await sign(es, idp.issuer, { iss: 'https://evil.example' })))
  t.equal(wrongIss.statusCode, 401, 'wrong issuer')
  t.match(challenge(wrongIss), /issuer/)

  const wrongAud = await post(headers(await sign(es, idp.issuer, { aud: 'https://other.example/mcp' })))
  t.equal(wrongAud.statusCode, 401, 'wrong audience')
  t.match(challenge(wrongAud), /aud/)

  const arrayAud = await post(headers(await sign(es, idp.issuer, { aud: ['https://x.example', AUDIENCE] })))
  t.equal(arrayAud.statusCode, 200, 'an audience array containing ours')

  const upperAud = await post(headers(await sign(es, idp.issuer, { aud: 'HTTP://127.0.0.1:9999/mcp' })))
  t.equal(upperAud.statusCode, 200, 'scheme and host compared case-insensitively')

  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const payload = enc({ sub: 'alice', iss: idp.issuer, aud: AUDIENCE, iat: now, exp: now + 300 })
  const none = await post(headers(`${enc({ alg: 'none' })}.${payload}.`))
  t.equal(none.statusCode, 401, 'alg: none')

  const pem = JSON.stringify(es.jwk)
  const hmacInput = `${enc({ alg: 'HS256', kid: 'es' })}.${payload}`
  const confused = `${hmacInput}.${createHmac('sha256', pem).update(hmacInput).digest('base64url')}`
  const hmac = await post(headers(confused))
  t.equal(hmac.statusCode, 401, 'an HMAC token signed with the public key')

  const query = await post(headers(null), `/mcp?access_token=${good}`)
  t.equal(query.statusCode, 401, 'a token in the query string is ignored')
  t.match(JSON.parse(query.body).error.message, /Authorization header/)

  const lower = await post({ ...headers(null), authorization: `bearer ${good}` })
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
})

t.test('static PEM and JWK keys, RS256 and EdDSA; HS256 secret with a warning', async (t) => {
  for (const alg of ['RS256', 'EdDSA'] as const) {
    const k = await makeKeys(alg, `k-${alg}`)
    const app = await authApp({ issuer: 'https://issuer.test', audience: AUDIENCE, publicKeys: [k.jwk as Record<string, unknown>], resourceMetadata: { authorizationServers: ['https://issuer.test'] } })
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(k, 'https://issuer.test')), payload: INIT })
    t.equal(res.statusCode, 200, `${alg} JWK`)
    await app.close()
  }
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const pemApp = await authApp({ issuer: 'https://issuer.test', audience: AUDIENCE, publicKeys: [await exportSPKI(publicKey)], resourceMetadata: { authorizationServers: ['https://issuer.test'] } })
  const pemToken = await sign({ alg: 'ES256', kid: 'x', privateKey, jwk: {} }, 'https://issuer.test')
  t.equal((await pemApp.inject({ method: 'POST', url: '/mcp', headers: headers(pemToken), payload: INIT })).statusCode, 200, 'PEM key')
  await pemApp.close()

  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } }) } })
  await app.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' }, auth: { issuer: 'https://i.test', audience: AUDIENCE, hs256Secret: 'x'.repeat(40), resourceMetadata: { authorizationServers: ['https://i.test'] } } })
  await app.ready()
  t.ok(lines.some((l) => /HS256 shared secret/.test(l)), 'HS256 logs a warning')
  await app.close()
  const short = Fastify()
  short.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' }, auth: { issuer: 'https://i.test', audience: AUDIENCE, hs256Secret: 'short', resourceMetadata: { authorizationServers: ['https://i.test'] } } })
  await t.rejects(async () => { await short.ready() }, /at least 32/)
  await short.close()
})

t.test('key rotation: a token signed by a new kid is accepted after the JWKS changes', async (t) => {
  const k1 = await makeKeys('ES256', 'k1')
  const idp = await identityProvider([k1])
  t.teardown(() => idp.close())
  const app = await authApp({ issuer: idp.issuer, audience: AUDIENCE, jwks: { url: idp.jwksUrl, cooldownMs: 0 }, resourceMetadata: { authorizationServers: [idp.issuer] } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(k1, idp.issuer)), payload: INIT })).statusCode, 200)
  const k2 = await makeKeys('ES256', 'k2')
  idp.keys = [k1, k2]
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(k2, idp.issuer)), payload: INIT })).statusCode, 200, 'the new key is fetched on an unknown kid')
  const stranger = await makeKeys('ES256', 'k3')
  t.equal((await app.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(stranger, idp.issuer)), payload: INIT })).statusCode, 401, 'an unknown key is refused')
})

t.test('a JWKS endpoint that is down or slow gives a prompt 503, never a hang', async (t) => {
  const k = await makeKeys('ES256', 'k')
  const slow = await identityProvider([k], { delayMs: 2000 })
  t.teardown(() => slow.close())
  const app = await authApp({ issuer: slow.issuer, audience: AUDIENCE, jwks: { url: slow.jwksUrl, timeoutMs: 200 }, resourceMetadata: { authorizationServers: [slow.issuer] } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(k, slow.issuer)), payload: INIT })
  t.equal(res.statusCode, 503, 'slow JWKS')
  t.ok(res.headers['retry-after'])
  t.match(JSON.parse(res.body).error.message, /cannot be verified right now/)

  const down = await authApp({ issuer: 'http://127.0.0.1:9', audience: AUDIENCE, jwks: { url: 'http://127.0.0.1:9/jwks', timeoutMs: 500 }, resourceMetadata: { authorizationServers: ['http://127.0.0.1:9'] } })
  t.teardown(() => down.close())
  const res2 = await down.inject({ method: 'POST', url: '/mcp', headers: headers(await sign(k, 'http://127.0.0.1:9')), payload: INIT })
  t.equal(res2.statusCode, 503, 'JWKS down')
})

t.test('remote JWKS must be https unless on loopback; auth options are validated', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ issuer: 'https://i', audience: AUDIENCE, jwks: { url: 'http://example.com/jwks' }, resourceMetadata: { authorizationServers: ['https://i'] } }, /https/],
    [{ issuer: 'https://i', audience: AUDIENCE, resourceMetadata: { authorizationServers: ['https://i'] } }, /exactly one/],
    [{ issuer: 'https://i', audience: AUDIENCE, hs256Secret: 'x'.repeat(40), resourceMetadata: { authorizationServers: [] } }, /authorizationServers/],
    [{ audience: AUDIENCE, hs256Secret: 'x'.repeat(40), resourceMetadata: { authorizationServers: ['https://i'] } }, /issuer/]
  ]
  for (const [auth, re] of cases) {
    const app = Fastify()
    app.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' }, auth: auth as never })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_MCP_OPTIONS', message: re })
    await app.close()
  }
})

t.test('the raw token never reaches the logs', async (t) => {
  const k = await makeKeys('ES256', 'k')
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'trace', stream: new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } }) } })
  await app.register(fastifyMcp, { serverInfo: { name: 'x', version: '1' }, allowedHosts: ['127.0.0.1:9999'], auth: { issuer: 'https://i.test', audience: AUDIENCE, publicKeys: [k.jwk as Record<string, unknown>], resourceMetadata: { authorizationServers: ['https://i.test'] } } })
  const token = await sign(k, 'https://i.test')
  await app.inject({ method: 'POST', url: '/mcp', headers: headers(token), payload: INIT })
  await app.inject({ method: 'POST', url: '/mcp', headers: headers(`${token}x`), payload: INIT })
  await app.close()
  t.ok(lines.length > 0, 'something was logged')
  t.notOk(lines.some((l) => l.includes(token.split('.')[2] as string)), 'no token in any log line')
})
