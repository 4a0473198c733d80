import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './helpers/oauth.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))

t.test('the Inspector command the banner prints runs as printed on this Node and lists the tools', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'insp-'))
  const port = await freePort()
  const child = spawn(process.execPath, [MAIN, 'serve'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: String(port), DATA_DIR: dir, LOG_LEVEL: 'silent' } })
  t.teardown(() => { child.kill('SIGTERM') })
  let banner = ''
  const command = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no banner: ${banner}`)) }, 20_000)
    child.stderr.on('data', (d: Buffer) => {
      banner += d.toString()
      const line = banner.split('\n').find((l) => l.trim().startsWith('npx -y @modelcontextprotocol/inspector@'))
      if (line !== undefined && banner.includes('--method tools/list')) { clearTimeout(timer); resolve(line.trim()) }
    })
  })
  t.match(command, /^npx -y @modelcontextprotocol\/inspector@0\.21\.2 --cli http:\/\/127\.0\.0\.1:\d+\/mcp --transport http --header "Authorization: Bearer [\w.-]+" --method tools\/list$/)
  const r = spawnSync('bash', ['-c', command], { encoding: 'utf8', timeout: 240_000 })
  t.equal(r.status, 0, r.stderr)
  const tools = (JSON.parse(r.stdout) as { tools: Array<{ name: string }> }).tools.map((x) => x.name)
  t.ok(tools.includes('screen_sanctions'), `Node ${process.version}: ${tools.join(', ')}`)
})
