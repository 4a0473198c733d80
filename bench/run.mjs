// Runs every scenario against bare Fastify and the peers in one go, and reports requests/s, p50/p99
// latency and the ratio to bare Fastify measured in the same run.
//   node run.mjs            full run (5 s per scenario), prints a markdown table
//   node run.mjs --smoke    1 s per scenario, fewer connections (CI smoke run)
//   node run.mjs --write    also writes ../docs/benchmarks-results.md
//   node run.mjs --cpu-prof each target process writes a V8 CPU profile to ./profiles/
//   node run.mjs --heap-prof the same with V8 sampling heap profiles (allocation sites)
//   node run.mjs --only=jwt only the scenarios whose "name target" matches the regex (the baseline always runs)
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import autocannon from 'autocannon'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { memoryScenarios } from './memory.mjs'

const smoke = process.argv.includes('--smoke')
const write = process.argv.includes('--write')
const profile = process.argv.includes('--cpu-prof')
const heapProfile = process.argv.includes('--heap-prof')
const onlyArg = process.argv.find((a) => a.startsWith('--only='))
const only = onlyArg === undefined ? null : new RegExp(onlyArg.slice('--only='.length), 'i')
const DURATION = smoke ? 1 : 5
const CONNECTIONS = smoke ? 10 : 50
const ACC = 'application/json, text/event-stream'
const PV = '2025-11-25'
const here = fileURLToPath(new URL('.', import.meta.url))

const init = (id = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } })
const callEcho = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } })
const callStream = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'stream', arguments: {}, _meta: { progressToken: 'p' } } })
const listTools = JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' })
const MODERN = '2026-07-28'
const modernMeta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} }
const callEchoModern = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' }, _meta: modernMeta } })
const modernHeaders = { accept: ACC, 'content-type': 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' }

async function startTarget (kind, env = {}) {
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${here}profiles`, `--cpu-prof-name=${kind}-${Date.now()}.cpuprofile`] : []
  if (process.env.BENCH_NODE_ARGS) nodeArgs.push(...process.env.BENCH_NODE_ARGS.split(' '))
  if (heapProfile) nodeArgs.push('--heap-prof', `--heap-prof-dir=${here}profiles`, `--heap-prof-name=${kind}-${Date.now()}.heapprofile`, '--heap-prof-interval=32768')
  const child = spawn(process.execPath, [...nodeArgs, `${here}server.mjs`, kind], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  for await (const chunk of child.stdout) {
    out += chunk
    const m = /PORT (\d+)/.exec(out)
    if (m !== null) return { url: `http://127.0.0.1:${m[1]}/mcp`, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit') } }
  }
  throw new Error(`${kind} did not start`)
}

async function openSession (url, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...headers }, body: init() })
  if (res.status !== 200) throw new Error(`initialize: ${res.status} ${await res.text()}`)
  const sid = res.headers.get('mcp-session-id')
  await res.text()
  const h = { accept: ACC, 'content-type': 'application/json', 'mcp-protocol-version': PV, ...headers }
  if (sid !== null) h['mcp-session-id'] = sid
  const ack = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
  await ack.text()
  return h
}

// Every request carries its own JSON-RPC id (in every scenario, ours, the peers' and bare Fastify's,
// so the comparison stays fair): the ids of requests in flight in one session must differ.
let nextId = 100
function uniqueIds (opts) {
  if (typeof opts.body !== 'string' || !opts.body.includes('"id":2')) return opts
  const { body, ...rest } = opts
  return { ...rest, requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: body.replace('"id":2', `"id":${++nextId}`) }) }] }
}

async function cannon (opts) {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, method: 'POST', ...uniqueIds(opts) })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx
  }
}

async function idp () {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...await exportJWK(publicKey), kid: 'bench', alg: 'ES256' }
  const app = Fastify()
  app.get('/jwks', async () => ({ keys: [jwk] }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const issuer = `http://127.0.0.1:${app.server.address().port}`
  return { app, issuer, privateKey }
}

async function redisReachable () {
  if (process.env.REDIS_URL === undefined) process.env.REDIS_URL = 'redis://127.0.0.1:6379'
  try {
    const require = createRequire(import.meta.url)
    const { Redis } = require('ioredis')
    const r = new Redis(process.env.REDIS_URL, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0 })
    await r.connect()
    await r.ping()
    r.disconnect()
    return true
  } catch {
    return false
  }
}

const rows = []
async function scenario (name, target, run, env = {}) {
  if (only !== null && target !== 'bare' && !only.test(`${name} ${target}`)) return
  const t = await startTarget(target, env)
  try {
    const r = await run(t.url)
    rows.push({ name, target, ...r })
    process.stderr.write(`${name.padEnd(44)} ${target.padEnd(18)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms${r.errors > 0 ? `  errors ${r.errors}` : ''}\n`)
  } finally {
    await t.stop()
  }
}

const sessionCall = (body, extraHeaders = {}) => async (url) => await cannon({ url, headers: await openSession(url, extraHeaders), body })

// 1. the baseline, measured first and last; the ratio uses their mean
await scenario('bare Fastify JSON POST', 'bare', async (url) => await cannon({ url, headers: { 'content-type': 'application/json' }, body: callEcho }))

// 2. ours
await scenario('tools/call, open session', 'ours', sessionCall(callEcho))
const { app: idpApp, issuer, privateKey } = await idp()
const audience = 'http://127.0.0.1/mcp'
const token = await new SignJWT({ scope: 'bench' }).setProtectedHeader({ alg: 'ES256', kid: 'bench' }).setIssuer(issuer).setAudience(audience).setSubject('bench').setIssuedAt().setExpirationTime('1h').sign(privateKey)
await scenario('tools/call, open session, ES256 JWT (JWKS)', 'ours-jwt', sessionCall(callEcho, { authorization: `Bearer ${token}` }), { BENCH_ISSUER: issuer, BENCH_AUDIENCE: audience, BENCH_JWKS_URL: `${issuer}/jwks` })
await scenario('tools/list, 50 tools', 'ours', sessionCall(listTools))
await scenario('tools/call, stateless', 'ours-stateless', async (url) => await cannon({ url, headers: { accept: ACC, 'content-type': 'application/json' }, body: callEcho }))
await scenario('streamed call, 10 progress events (SSE)', 'ours', sessionCall(callStream))
await scenario('initialize + first call', 'ours', async (url) => await cannon({
  url,
  requests: [
    { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json' }, body: init(), onResponse: (status, body, context, headers) => { context.sid = headers['mcp-session-id'] } },
    { method: 'POST', body: callEcho, setupRequest: (req, context) => ({ ...req, headers: { accept: ACC, 'content-type': 'application/json', 'mcp-protocol-version': PV, 'mcp-session-id': context.sid } }) }
  ]
}))
await scenario('tools/call, 2026-07-28 (no session)', 'ours', async (url) => await cannon({ url, headers: modernHeaders, body: callEchoModern }))
await scenario('tools/call, 2026-07-28, ES256 JWT (JWKS)', 'ours-jwt', async (url) => await cannon({ url, headers: { ...modernHeaders, authorization: `Bearer ${token}` }, body: callEchoModern }), { BENCH_ISSUER: issuer, BENCH_AUDIENCE: audience, BENCH_JWKS_URL: `${issuer}/jwks` })
if (await redisReachable()) {
  await scenario('tools/call, open session, Redis store', 'ours-redis', sessionCall(callEcho))
} else {
  process.stderr.write('Redis store scenario skipped: no Redis at REDIS_URL\n')
}

// 3. peers, same tools and payloads
for (const peer of ['sdk-v1-node-http', 'sdk-v2-fastify', 'fastify-mcp-npm']) {
  await scenario('tools/call, open session', peer, sessionCall(callEcho))
  await scenario('tools/list, 50 tools', peer, sessionCall(listTools))
}
await scenario('tools/call, 2026-07-28 (no session)', 'sdk-v2-modern', async (url) => await cannon({ url, headers: modernHeaders, body: callEchoModern }))

await scenario('bare Fastify JSON POST', 'bare', async (url) => await cannon({ url, headers: { 'content-type': 'application/json' }, body: callEcho }))
await idpApp.close()

const bases = rows.filter((r) => r.target === 'bare')
const base = bases.reduce((s, r) => s + r.rps, 0) / bases.length
const table = ['| scenario | target | req/s | ratio to bare Fastify | p50 ms | p99 ms | errors |', '|---|---|---:|---:|---:|---:|---:|']
for (const r of rows) table.push(`| ${r.name} | ${r.target} | ${Math.round(r.rps)} | ${(r.rps / base).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.errors} |`)

const memory = only === null || only.test('memory') ? await memoryScenarios(smoke) : []
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${CONNECTIONS} connections, ${DURATION} s per scenario`
const report = [`Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`, '', ...table, '', ...memory, ''].join('\n')
process.stdout.write(`${report}\n`)
if (write) writeFileSync(new URL('../docs/benchmarks-results.md', import.meta.url), `<!-- written by: pnpm bench -- --write -->\n# Benchmark results\n\n${report}`)
const failed = rows.filter((r) => r.errors > 0 && !r.target.startsWith('sdk') && r.target !== 'fastify-mcp-npm')
if (failed.length > 0) {
  process.stderr.write(`errors in: ${failed.map((r) => `${r.name} (${r.target})`).join(', ')}\n`)
  process.exitCode = 1
}
