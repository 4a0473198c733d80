// The compliance server's authenticated `country_risk` call on an open session, its audit record
// committed before the answer (group commit), against bare Fastify, at 50 connections, on both
// records engines (PostgreSQL at 127.0.0.1:5432 and the embedded PGlite in a temp folder).
//   node records.mjs [--smoke] [--rounds=N]
// Prints a markdown table with req/s, p50/p99, the ratio to bare Fastify (the mean of the bare
// rounds around it) and the records per commit the server reported at shutdown.
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { SignJWT } from 'jose'

const smoke = process.argv.includes('--smoke')
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? (smoke ? 1 : 2))
const DURATION = Number(process.argv.find((a) => a.startsWith("--duration="))?.slice(11) ?? (smoke ? 1 : 5))
const CONNECTIONS = 50
const here = fileURLToPath(new URL('.', import.meta.url))
const MAIN = join(here, '../apps/compliance-server/dist/main.js')
const SECRET = 'bench-secret-that-is-long-enough-0123456789'
const PV = '2025-11-25'
const ACC = 'application/json, text/event-stream'
const PG = process.env.BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432'

async function startBare () {
  const child = spawn(process.execPath, [`${here}server.mjs`, 'bare'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  for await (const chunk of child.stdout) {
    out += chunk
    const m = /PORT (\d+)/.exec(out)
    if (m !== null) return { url: `http://127.0.0.1:${m[1]}/mcp`, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit') } }
  }
  throw new Error('bare did not start')
}

async function startCompliance (env) {
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AUTH_ISSUER: 'https://issuer.bench', AUTH_HS256_SECRET: SECRET, MCP_PUBLIC_URL: 'http://127.0.0.1/mcp', PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', RATE_LIMIT_MAX: '100000000', ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) resolve(`${m[1]}/mcp`)
    })
    child.on('exit', (code) => { reject(new Error(`compliance server exited ${code}`)) })
  })
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await once(child, 'exit')
      const m = /"commits":(\d+),"records":(\d+)/.exec(out)
      return m === null ? null : { commits: Number(m[1]), records: Number(m[2]) }
    }
  }
}

async function cannon (opts) {
  const r = await autocannon({ connections: CONNECTIONS, duration: DURATION, method: 'POST', ...opts })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx }
}

async function bare () {
  const t = await startBare()
  const r = await cannon({ url: t.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } }) })
  await t.stop()
  return r
}

async function compliance (engine) {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-records-'))
  const db = `bench_records_${process.pid}_${Date.now()}`
  const env = { DATA_DIR: dir }
  if (engine === 'postgres') {
    execFileSync('psql', [PG + '/postgres', '-qc', `CREATE DATABASE ${db}`])
    env.DATABASE_URL = `${PG}/${db}`
  }
  try {
    const t = await startCompliance(env)
    const token = await new SignJWT({ scope: 'risk:read', client_id: 'bench' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.bench').setAudience('http://127.0.0.1/mcp').setSubject('bench').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(SECRET))
    const headers = { authorization: `Bearer ${token}`, accept: ACC, 'content-type': 'application/json' }
    const init = await fetch(t.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }) })
    const sid = init.headers.get('mcp-session-id')
    await init.text()
    const h = { ...headers, 'mcp-protocol-version': PV, 'mcp-session-id': sid }
    await (await fetch(t.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text()
    const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'country_risk', arguments: { country: 'Burma' } } })
    const check = await (await fetch(t.url, { method: 'POST', headers: h, body })).text()
    if (!check.includes('"riskLevel"')) throw new Error(`country_risk did not answer: ${check.slice(0, 300)}`)
    // Each request its own id: ids of requests in flight in one session must differ (a reused one is refused).
    let n = 100
    const r = await cannon({ url: t.url, headers: h, requests: [{ setupRequest: (req) => ({ ...req, body: body.replace('"id":2', `"id":${++n}`) }) }] })
    const stats = await t.stop()
    return { ...r, perCommit: stats === null || stats.commits === 0 ? null : stats.records / stats.commits }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    if (engine === 'postgres') execFileSync('psql', [PG + '/postgres', '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`])
  }
}

const rows = []
for (let i = 0; i < rounds; i++) {
  const b1 = await bare()
  const pg = await compliance('postgres')
  const b2 = await bare()
  const em = await compliance('embedded')
  const b3 = await bare()
  rows.push({ name: 'bare Fastify JSON POST', ...b1 }, { name: 'country_risk, PostgreSQL', ...pg, base: (b1.rps + b2.rps) / 2 }, { name: 'bare Fastify JSON POST', ...b2 }, { name: 'country_risk, embedded (PGlite)', ...em, base: (b2.rps + b3.rps) / 2 }, { name: 'bare Fastify JSON POST', ...b3 })
}
const lines = ['| scenario | req/s | ratio to bare Fastify | p50 ms | p99 ms | records per commit | errors |', '|---|---:|---:|---:|---:|---:|---:|']
for (const r of rows) {
  lines.push(`| ${r.name} | ${Math.round(r.rps)} | ${r.base === undefined ? '1.00' : (r.rps / r.base).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.perCommit == null ? '' : r.perCommit.toFixed(1)} | ${r.errors} |`)
}
console.log(`${CONNECTIONS} connections, ${DURATION} s per scenario, node ${process.version}, ${os.cpus().length} CPUs\n`)
console.log(lines.join('\n'))
