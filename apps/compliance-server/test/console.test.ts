import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))

interface Running { stdout: () => string, stderr: () => string, waitFor: (stream: 'stdout' | 'stderr', re: RegExp) => Promise<void>, stop: () => Promise<void> }

function start (env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN, 'serve'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } })
  const out = { stdout: '', stderr: '' }
  const waiters: Array<() => void> = []
  child.stdout.on('data', (d: Buffer) => { out.stdout += d.toString(); waiters.forEach((w) => { w() }) })
  child.stderr.on('data', (d: Buffer) => { out.stderr += d.toString(); waiters.forEach((w) => { w() }) })
  const closed = new Promise<void>((resolve) => child.on('close', () => { resolve() }))
  return {
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor: async (stream, re) => await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`timed out waiting for ${String(re)} in ${stream}: ${out[stream]}`)) }, 20_000)
      const check = (): void => { if (re.test(out[stream])) { clearTimeout(timer); resolve() } }
      waiters.push(check)
      check()
    }),
    stop: async () => { child.kill('SIGTERM'); await closed }
  }
}

t.test('development console: one readable line per request, the banner last and once, naming the real port', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'console-'))
  const s = start({ PORT: '0', DATA_DIR: dir })
  t.teardown(s.stop)
  await s.waitFor('stderr', /MCP Inspector \(CLI\):\n {2}npx [^\n]+\n\n/)
  const port = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(s.stderr())?.[1] as string
  t.ok(port, 'the listen line is readable')
  const boot = s.stderr()
  t.equal(boot.split('*** DEVELOPMENT:').length - 1, 1, 'banner once')
  t.ok(boot.indexOf('Server listening') < boot.indexOf('*** DEVELOPMENT:'), 'banner after the start-up lines')
  t.match(boot, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: sanctions lists swapped /m, 'list events read like the rest of the console')
  t.notMatch(boot, /^\{"level"/m, 'no raw JSON line in the pretty console')
  t.match(boot, new RegExp(`MCP endpoint: +http://127\\.0\\.0\\.1:${port}/mcp`), 'PORT=0: the banner names the port it listens on')
  t.match(boot, new RegExp(`Authorization server: +http://127\\.0\\.0\\.1:${port}/oauth`))
  t.match(boot.trimEnd().split('\n').at(-1)?.trim(), new RegExp(`^npx -y @modelcontextprotocol/inspector@\\S+ --cli http://127\\.0\\.0\\.1:${port}/mcp `), 'the Inspector command ends the start-up output')
  const token = /^Token: +(\S+)$/m.exec(boot)?.[1] as string

  await fetch(`http://127.0.0.1:${port}/health`)
  await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST' })
  const init = await fetch(`http://127.0.0.1:${port}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'console-test', version: '1' } } })
  })
  t.equal(init.status, 200, 'the banner token is accepted by the endpoint the banner names')
  await init.text()
  await s.waitFor('stderr', /POST \/mcp 200/)
  const lines = s.stderr().slice(boot.length).trim().split('\n')
  t.ok(lines.every((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: (GET|POST) \S+ \d{3} \d+\.\d ms$/.test(l)), 'every line is one request')
  // The built-in authorization server's keys are fetched once through its own JWKS route, as any verifier would.
  const after = lines.filter((l) => !l.includes(' GET /oauth/jwks ') && !l.includes(' GET /jwks '))
  t.equal(after.length, 3, 'three requests, three lines (besides the JWKS fetch)')
  t.match(after[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/health 200 \d+\.\d ms$/)
  t.match(after[1], /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: POST \/mcp 401 \d+\.\d ms$/)
  t.match(after[2], /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: POST \/mcp 200 \d+\.\d ms$/)
  t.equal(s.stdout(), '', 'nothing on stdout')
})

t.test('LOG_FORMAT=json (the production default): one JSON object per request on stdout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'console-'))
  const s = start({ PORT: '0', DATA_DIR: dir, LOG_FORMAT: 'json' })
  t.teardown(s.stop)
  await s.waitFor('stdout', /Server listening/)
  const port = /"msg":"Server listening at http:\/\/127\.0\.0\.1:(\d+)"/.exec(s.stdout())?.[1] as string
  await fetch(`http://127.0.0.1:${port}/health`)
  await s.waitFor('stdout', /GET \/health 200/)
  const lines = s.stdout().trim().split('\n').map((l) => JSON.parse(l) as { msg: string, res?: { statusCode: number }, responseTime?: number })
  const requests = lines.filter((l) => l.res !== undefined)
  t.equal(requests.length, 1)
  t.match(requests[0], { msg: /^GET \/health 200 /, res: { statusCode: 200 }, responseTime: Number })
})

t.test('LOG_FORMAT defaults: pretty only in development', async (t) => {
  const { loadConfig } = await import('../src/config.js')
  t.equal(loadConfig({}).logFormat, 'pretty')
  t.equal(loadConfig({ NODE_ENV: 'test' }).logFormat, 'pretty')
  t.equal(loadConfig({ NODE_ENV: 'production', TRANSPORT: 'stdio' }).logFormat, 'json')
  t.equal(loadConfig({ LOG_FORMAT: 'json' }).logFormat, 'json')
  t.throws(() => loadConfig({ LOG_FORMAT: 'xml' }), /invalid LOG_FORMAT/)
})
