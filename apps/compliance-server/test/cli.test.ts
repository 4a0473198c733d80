import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { writeV1Log } from './helpers/v1-log.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }

function run (args: string[], env: Record<string, string>, untilMs = 10_000, waitFor?: RegExp): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...BASE_ENV, ...env } })
    let stdout = ''
    let stderr = ''
    const done = (): void => { clearTimeout(timer); child.kill('SIGTERM') }
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (waitFor?.test(stderr) === true) done() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, untilMs)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('each invalid variable stops the process with exit 1 and one line naming it', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MCP_PUBLIC_URL: 'not a url' }, 'MCP_PUBLIC_URL'],
    [{ AUTH_ISSUER: 'ftp://x' }, 'AUTH_ISSUER'],
    [{ AUTH_HS256_SECRET: 'short', AUTH_ISSUER: 'https://i.test' }, 'AUTH_HS256_SECRET'],
    [{ AUTH_JWKS_URL: 'https://i.test/jwks', AUTH_HS256_SECRET: 'x'.repeat(40), AUTH_ISSUER: 'https://i.test' }, 'AUTH_JWKS_URL'],
    [{ AUTH_HS256_SECRET: 'x'.repeat(40) }, 'AUTH_ISSUER'],
    [{ RATE_LIMIT_MAX: '0' }, 'RATE_LIMIT_MAX'],
    [{ SESSION_IDLE_TIMEOUT: 'soon' }, 'SESSION_IDLE_TIMEOUT'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ MCP_ERAS: '2024' }, 'MCP_ERAS'],
    [{ MCP_REQUEST_STATE_SECRET: 'short' }, 'MCP_REQUEST_STATE_SECRET'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRANSPORT: 'pigeon' }, 'TRANSPORT'],
    [{ NODE_ENV: 'production' }, 'AUTH_MODE'],
    [{ NODE_ENV: 'Production' }, 'AUTH_MODE'],
    [{ NODE_ENV: 'staging' }, 'AUTH_MODE'],
    [{ PORT: '' }, 'PORT'],
    [{ PORT: '0x10' }, 'PORT'],
    [{ PORT: '1e3' }, 'PORT'],
    [{ HOST: 'http://0.0.0.0' }, 'HOST'],
    [{ RATE_LIMIT_WINDOW: 'a while' }, 'RATE_LIMIT_WINDOW'],
    [{ DATA_DIR: '/etc/hostname' }, 'DATA_DIR'],
    [{ AUTH_ISSUER: 'https://i.test', AUTH_PUBLIC_KEY_FILE: '/etc/hostname' }, 'AUTH_PUBLIC_KEY_FILE']
  ]
  for (const [env, name] of cases) {
    // A fresh data folder each time: never the user's own (its lock may be held by a running server).
    const r = await run(['serve'], { DATA_DIR: await mkdtemp(join(tmpdir(), 'cli-')), ...env })
    t.equal(r.code, 1, `${name} → exit 1`)
    const lines = r.stderr.trim().split('\n')
    t.equal(lines.length, 1, `${name}: one line`)
    t.match(lines[0], new RegExp(`invalid ${name}`), `${name} named`)
  }
  const prod = await run(['serve'], { NODE_ENV: 'production' })
  t.match(prod.stderr, /requires authentication/)
})

t.test('AUTH_MODE=dev prints a token with every scope and the Inspector command', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-'))
  const r = await run(['serve'], { AUTH_MODE: 'dev', PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent' }, 30_000, /--method tools\/list/)
  t.match(r.stderr, /DEVELOPMENT MODE/)
  const token = /Token: +(\S+)/.exec(r.stderr)?.[1] as string
  const claims = decodeJwt(token)
  t.equal(claims.sub, 'developer')
  t.equal((claims.scope as string).split(' ').length, 9)
  // PORT=0 takes a free port before anything is built: the banner and the token's audience name it.
  const port = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(r.stderr)?.[1] ?? /MCP endpoint: +http:\/\/127\.0\.0\.1:(\d+)\//.exec(r.stderr)?.[1]
  t.not(port, '0')
  t.equal(claims.aud, `http://127.0.0.1:${port ?? ''}/mcp`)
  t.match(r.stderr, new RegExp(`npx -y @modelcontextprotocol/inspector@0\\.21\\.2 --cli http://127\\.0\\.0\\.1:${port ?? ''}/mcp --transport http --header "Authorization: Bearer `))
})

t.test('by default in development the built-in authorization server signs in analyst; the banner prints the password and a token', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-'))
  const r = await run(['serve'], { PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent' }, 30_000, /--method tools\/list/)
  t.match(r.stderr, /Development user: +analyst/)
  t.match(r.stderr, /Password: +\S{12,} +\(random per start/)
  const port = /MCP endpoint: +http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(r.stderr)?.[1] ?? ''
  t.ok(Number(port) > 0, 'PORT=0: the banner names the port taken')
  t.match(r.stderr, new RegExp(`Authorization server: +http://127\\.0\\.0\\.1:${port}/oauth`))
  const token = /Token: +(\S+)/.exec(r.stderr)?.[1] as string
  t.match(decodeJwt(token), { sub: 'analyst', iss: `http://127.0.0.1:${port}/oauth`, aud: `http://127.0.0.1:${port}/mcp` })
  t.match(r.stderr, /npx -y @modelcontextprotocol\/inspector@0\.21\.2 --cli /)
})

t.test('mint-token prints only a token signed with the configured secret; verify-audit checks a chain', async (t) => {
  const env = { AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: 's'.repeat(40), MCP_PUBLIC_URL: 'https://mcp.test/mcp' }
  const r = await run(['mint-token', '--sub', 'alice', '--scopes', 'sanctions:screen risk:read', '--ttl', '10m', '--client-id', 'cli'], env)
  t.equal(r.code, 0)
  t.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/)
  const claims = decodeJwt(r.stdout.trim())
  t.match(claims, { sub: 'alice', scope: 'sanctions:screen risk:read', client_id: 'cli', iss: 'https://issuer.test', aud: 'https://mcp.test/mcp' })
  const missing = await run(['mint-token', '--sub', 'alice'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /--scopes/)

  const dir = await mkdtemp(join(tmpdir(), 'cli-'))
  const file = join(dir, 'audit.ndjson')
  await writeV1Log(file, Array.from({ length: 5 }, (_, i) => ({ i })))
  const good = await run(['verify-audit', file], {})
  t.equal(good.code, 0)
  t.match(good.stdout, /ok: 5 lines/)
  const lines = (await readFile(file, 'utf8')).split('\n')
  lines.splice(2, 1)
  await writeFile(file, lines.join('\n'))
  const bad = await run(['verify-audit', file], {})
  t.equal(bad.code, 2)
  t.match(bad.stdout, /broken at record 4 \(line 3\)/)
})

t.test('stdio: the same tools, the caller from the environment, the same audit log', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-'))
  const auditFile = join(dir, 'stdio.ndjson')
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN],
    env: { ...BASE_ENV, TRANSPORT: 'stdio', MCP_STDIO_SUBJECT: 'desk-user', MCP_STDIO_SCOPES: 'sanctions:screen risk:read', DATA_DIR: dir, LOG_LEVEL: 'silent' },
    stderr: 'pipe'
  })
  const client = new Client({ name: 'stdio-test', version: '1' })
  await client.connect(transport)
  t.equal((await client.listTools()).tools.length, 14)
  const r = await client.callTool({ name: 'screen_sanctions', arguments: { name: 'Kim Jong Un' } })
  t.match(r.structuredContent, { hits: [{ id: '20157' }], audit: { caller: { subject: 'desk-user', scopes: ['sanctions:screen', 'risk:read'] } } })
  const denied = await client.callTool({ name: 'get_case', arguments: { caseId: 'x' } }).catch((err: Error) => err)
  t.match(String(denied instanceof Error ? denied.message : JSON.stringify(denied)), /[Ii]nsufficient scope/)
  await client.close()
  const exported = await run(['export-audit'], { DATA_DIR: dir })
  t.equal(exported.code, 0, exported.stderr)
  const log = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'record' in l)
  t.equal(log.length, 1)
  t.match(log[0], { v: 2, record: { tool: 'screen_sanctions', caller: { subject: 'desk-user' } } })
  await writeFile(auditFile, exported.stdout)
  const verified = await run(['verify-audit', auditFile], { DATA_DIR: dir })
  t.match(verified.stdout, /^ok: \d+ lines, chain intact; anchored by 1 checkpoint\(s\) through record 1; 0 record\(s\) after/, 'the export verifies with the key of the data folder')
})
