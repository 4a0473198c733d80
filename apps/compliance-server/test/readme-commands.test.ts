import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const README = fileURLToPath(new URL('../README.md', import.meta.url))

/** The README's shell commands that run the CLI (continuations joined, comments dropped). */
async function documentedCommands (): Promise<string[]> {
  const text = await readFile(README, 'utf8')
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const commands: string[] = []
  for (const block of blocks) {
    for (const command of block.replace(/\\\n\s*/g, ' ').split('\n')) {
      const c = command.trim()
      if (c === '' || c.startsWith('#')) continue
      if (/(node apps\/compliance-server\/dist\/main\.js|pnpm --silent) (mint-token|verify-audit|rotate-signing-key|cli)\b/.test(c)) commands.push(c)
    }
  }
  return commands
}

t.test('each README command runs as written from the repository root and prints only its result', async (t) => {
  const commands = await documentedCommands()
  t.ok(commands.length >= 7, `found ${commands.length} commands`)
  // A new user's machine: HOME is empty but for the default DATA_DIR, holding a store with a few records.
  const home = await mkdtemp(join(tmpdir(), 'readme-home-'))
  const { openRecords } = await import('../src/services.js')
  const { loadConfig, dataDirOf } = await import('../src/config.js')
  const records = await openRecords(loadConfig({ DATA_DIR: dataDirOf({ XDG_DATA_HOME: join(home, '.local', 'share') }) }))
  for (let i = 0; i < 3; i++) await records.append({ tool: 'readme-test', outcome: 'ok', i })
  await records.close()
  const made = ['chain.ndjson', '2026.ndjson'].map((f) => `${ROOT}${f}`).filter((f) => !existsSync(f))
  t.teardown(async () => { for (const f of made) await rm(f, { force: true }) })
  const env = { PATH: process.env.PATH ?? '', HOME: home }
  for (const command of commands) {
    const r = spawnSync('bash', ['-c', command], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
    t.equal(r.status, 0, `${command}: exit 0 (${r.stderr.trim()})`)
    if (/mint-token/.test(command)) t.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, `${command}: only a token`)
    if (/rotate-signing-key/.test(command)) t.match(r.stdout, /^signing key [\w-]+ signs from each instance's next start/, `${command}: names the new signing key`)
    if (/verify-audit/.test(command)) t.match(r.stdout, /^ok: \d+ (lines|records \(\w+\)), chain intact(; [^\n]+)?\n$/, `${command}: only the verdict (one line, with the checkpoint status)`)
  }
  t.ok(existsSync(`${ROOT}chain.ndjson`), 'the export was written where the README says')
})

t.test('through pnpm --filter, a relative path is taken from the folder the command was typed in', async (t) => {
  const auditFile = `${ROOT}compliance-audit.ndjson`
  if (!existsSync(auditFile)) {
    const { writeV1Log } = await import('./helpers/v1-log.js')
    await writeV1Log(auditFile, [{ tool: 'readme-test' }])
    t.teardown(async () => { await rm(auditFile, { force: true }) })
  }
  const r = spawnSync('pnpm', ['--silent', '--filter', 'compliance-server', 'verify-audit', 'compliance-audit.ndjson'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /^ok: \d+ lines, chain intact(; [^\n]+)?\n$/)
})
