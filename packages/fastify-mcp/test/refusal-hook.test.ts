import type { InjectOptions } from 'fastify'
import t from 'tap'
import type { McpRefusal } from '../src/index.js'
import { ACC, PV, buildApp, initBody } from './helpers/http.js'
import { bearer, testAuth } from './helpers/auth-stub.js'
import { until } from './helpers/wait.js'
import { modernMeta } from './helpers/modern.js'

const H = { accept: ACC, 'content-type': 'application/json', host: '127.0.0.1' }

async function setup (t: { teardown: (fn: () => unknown) => void }, hook?: (r: McpRefusal) => void | Promise<void>, extra = {}) {
  const seen: McpRefusal[] = []
  const app = await buildApp({ auth: testAuth(), rateLimit: { max: 50, timeWindow: 60_000 }, bodyLimit: 1000, onRefusal: hook ?? ((r) => { seen.push(r) }), ...extra })
  t.teardown(() => app.close())
  const open = async (who: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer(who) }, payload: initBody() })
    return res.headers['mcp-session-id'] as string
  }
  return { app, seen, open }
}

t.test('every refused request is reported once, with its reason and no token material', async (t) => {
  const { app, seen, open } = await setup(t)
  const sid = await open('alice')
  const cases: Array<[InjectOptions, Partial<McpRefusal>]> = [
    [{ method: 'POST', url: '/mcp', headers: H, payload: initBody() }, { status: 401, code: -32004, reason: 'unauthenticated' }],
    [{ method: 'POST', url: '/mcp?access_token=tok-alice', headers: H, payload: initBody() }, { status: 401, reason: 'unauthenticated' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, authorization: 'Bearer forged-secret' }, payload: initBody() }, { status: 401, reason: 'invalid_token', caller: null }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice'), 'mcp-session-id': 'nope' }, payload: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: {} } } },
      { status: 404, code: -32001, reason: 'unknown_session', sessionId: 'nope', method: 'tools/call', target: 'echo' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('mallory'), 'mcp-session-id': sid, 'mcp-protocol-version': PV }, payload: { jsonrpc: '2.0', id: 3, method: 'ping' } },
      { status: 404, reason: 'session_principal_mismatch', sessionId: sid, protocolVersion: PV }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, host: 'evil.example' }, payload: initBody() }, { status: 403, reason: 'forbidden_host' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, origin: 'https://evil.example' }, payload: initBody() }, { status: 403, reason: 'forbidden_origin' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice') }, payload: '{"jsonrpc":' }, { status: 400, code: -32700, reason: 'parse_error' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice') }, payload: { jsonrpc: '1.0', id: 1, method: 'x' } }, { status: 400, code: -32600, reason: 'invalid_request' }],
    [{ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice') }, payload: { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(2000) } } }, { status: 413, reason: 'payload_too_large' }]
  ]
  for (const [req, want] of cases) {
    const before = seen.length
    const res = await app.inject(req)
    t.equal(res.statusCode, want.status, String(want.reason))
    t.equal(seen.length, before + 1, `${want.reason}: reported once`)
    const r = seen.at(-1) as McpRefusal
    t.match(r, { ...want, requestId: String, ip: String, message: String })
    t.ok(!Number.isNaN(Date.parse(r.at)), 'at is an ISO time')
    t.notMatch(JSON.stringify(r), /tok-alice|forged-secret/, 'no token material')
  }
  t.match(seen.find((r) => r.reason === 'session_principal_mismatch'), { caller: { subject: 'mallory' } })
})

t.test('insufficient scope, rate limit, session cap, the 2026 era and invalid tool arguments are reported', async (t) => {
  const { app, seen, open } = await setup(t, undefined, { rateLimit: { max: 6, timeWindow: 60_000 }, sessions: { maxPerPrincipal: 1 } })
  app.mcp.tool({ name: 'admin', description: 'needs a scope', scopes: ['admin'], handler: () => ({ content: [] }) })
  const sid = await open('alice')
  const scoped = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice'), 'mcp-session-id': sid }, payload: { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'admin', arguments: {} } } })
  t.equal(scoped.statusCode, 403)
  t.match(seen.at(-1), { status: 403, code: -32003, reason: 'insufficient_scope', target: 'admin', caller: { subject: 'alice' } })
  const bad = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice'), 'mcp-session-id': sid }, payload: { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { text: 7 } } } })
  t.equal(bad.statusCode, 200)
  t.match(JSON.parse(bad.body), { result: { isError: true } }, 'an in-band error')
  t.match(seen.at(-1), { status: 200, code: -32602, reason: 'invalid_params', method: 'tools/call', target: 'echo', sessionId: sid })
  const second = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice') }, payload: initBody() })
  t.equal(second.statusCode, 429)
  t.match(seen.at(-1), { status: 429, reason: 'too_many_sessions', method: 'initialize' })
  const modern = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice'), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }, payload: { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'echo', arguments: { text: 'a' }, _meta: modernMeta() } } })
  t.equal(modern.statusCode, 400)
  t.match(seen.at(-1), { status: 400, reason: 'invalid_request', protocolVersion: '2026-07-28' })
  const meta = modernMeta()
  const modernBad = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('erin'), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, payload: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 7 }, _meta: meta } } })
  t.equal(modernBad.statusCode, 200)
  t.match(JSON.parse(modernBad.body), { result: { isError: true } })
  t.match(seen.at(-1), { status: 200, code: -32602, reason: 'invalid_params', target: 'echo', protocolVersion: '2026-07-28', caller: { subject: 'erin' } }, '2026: invalid arguments reported')
  let limited
  for (let i = 0; i < 4 && limited === undefined; i++) {
    const res = await app.inject({ method: 'POST', url: '/mcp', headers: { ...H, ...bearer('alice') }, payload: initBody() })
    if (res.statusCode === 429 && seen.at(-1)?.reason === 'rate_limited') limited = seen.at(-1)
  }
  t.match(limited, { status: 429, code: -32005, reason: 'rate_limited', caller: { subject: 'alice' } })
})

t.test('the refusal waits for the hook; a throwing hook is logged and the refusal still sent', async (t) => {
  let release = (): void => {}
  let called = 0
  const { app } = await setup(t, async () => { called++; await new Promise<void>((resolve) => { release = resolve }) })
  let settled = false
  const pending = app.inject({ method: 'POST', url: '/mcp', headers: H, payload: initBody() }).then((r) => { settled = true; return r })
  t.ok(await until(() => called === 1), 'the hook runs')
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(settled, 'no answer while the hook runs')
  release()
  t.equal((await pending).statusCode, 401)

  const logs: string[] = []
  const { app: app2 } = await setup(t, () => { throw new Error('audit down') })
  app2.log.error = ((obj: unknown, msg?: string) => { logs.push(`${msg ?? ''} ${String((obj as { err?: Error }).err?.message)}`) }) as typeof app2.log.error
  const res = await app2.inject({ method: 'POST', url: '/mcp', headers: H, payload: initBody() })
  t.equal(res.statusCode, 401)
  t.same(logs.filter((l) => l.includes('audit down')).length, 1, 'the error is logged')
})
