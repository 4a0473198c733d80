import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, isDevelopmentEnv, loadConfig, parseDuration } from '../src/config.js'
import { setupAuth } from '../src/auth.js'
import { createServices } from '../src/services.js'

function fails (t: { throws: (fn: () => unknown, wanted: RegExp, message: string) => unknown }, env: Record<string, string>, pattern: RegExp, label: string): void {
  t.throws(() => loadConfig(env), pattern, label)
}

t.test('durations: the forms the Fastify ecosystem documents', async (t) => {
  const cases: Array<[string, number]> = [
    ['30000', 30_000], ['90s', 90_000], ['1 minute', 60_000], ['2 minutes', 120_000], ['2h', 7_200_000],
    ['30m', 1_800_000], ['1.5h', 5_400_000], ['500ms', 500], ['1 hour', 3_600_000], ['1d', 86_400_000], [' 45 seconds ', 45_000]
  ]
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, text)
  for (const bad of ['', 'soon', '-5s', '0', '0s', '1 fortnight', '1e3', '2 h m']) t.equal(parseDuration(bad), null, `"${bad}" refused`)
  t.equal(loadConfig({ RATE_LIMIT_WINDOW: '1 minute' }).RATE_LIMIT_WINDOW, 60_000)
  t.equal(loadConfig({ SESSION_IDLE_TIMEOUT: '2 minutes' }).SESSION_IDLE_TIMEOUT, 120_000)
  t.equal(loadConfig({}).RATE_LIMIT_WINDOW, 60_000)
  fails(t, { RATE_LIMIT_WINDOW: 'soon' }, /invalid RATE_LIMIT_WINDOW: "soon" is not a duration/, 'bad duration named')
})

t.test('PORT: decimal digits 0-65535 only', async (t) => {
  t.equal(loadConfig({ PORT: '8080' }).PORT, 8080)
  t.equal(loadConfig({ PORT: '0' }).PORT, 0)
  t.equal(loadConfig({}).PORT, 3000)
  for (const bad of ['', '0x10', '1e3', ' 80', '80.0', '-1', '65536', 'abc']) fails(t, { PORT: bad }, /^ConfigError: invalid PORT: must be a port number|invalid PORT/, `PORT=${JSON.stringify(bad)} refused`)
  t.throws(() => loadConfig({ PORT: '' }), ConfigError)
})

t.test('HOST: an address or a host name, named when wrong', async (t) => {
  for (const ok of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'mcp.internal']) t.equal(loadConfig({ HOST: ok }).HOST, ok)
  for (const bad of ['', 'http://x', 'a b', 'host:80', '[::1]']) fails(t, { HOST: bad }, /invalid HOST: must be an IP address or a host name/, `HOST=${JSON.stringify(bad)}`)
})

t.test('development mode only when NODE_ENV is unset, development or test', async (t) => {
  for (const v of [undefined, '', 'development', 'test', 'Development', 'TEST']) t.equal(isDevelopmentEnv(v), true, String(v))
  for (const v of ['production', 'Production', 'PRODUCTION', 'prod', 'staging', 'dev', 'testing']) {
    t.equal(isDevelopmentEnv(v), false, v)
    fails(t, { NODE_ENV: v }, /invalid AUTH_MODE: NODE_ENV=.* requires authentication/, `NODE_ENV=${v} refuses to start without auth`)
  }
  t.equal(loadConfig({ NODE_ENV: 'Test' }).authMode, 'builtin')
  t.doesNotThrow(() => loadConfig({ NODE_ENV: 'staging', TRANSPORT: 'stdio' }), 'stdio has no network caller: it starts without auth')
})

t.test('key files that are not PEM keys are named with the cause', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'))
  const file = join(dir, 'key.pem')
  await writeFile(file, 'this is not a key\n')
  const config = loadConfig({ AUTH_ISSUER: 'https://i.test', AUTH_PUBLIC_KEY_FILE: file })
  await t.rejects(setupAuth(config), /invalid AUTH_PUBLIC_KEY_FILE: .*key\.pem is not a PEM public key/)
  const missing = loadConfig({ AUTH_ISSUER: 'https://i.test', AUTH_PUBLIC_KEY_FILE: join(dir, 'nope.pem') })
  await t.rejects(setupAuth(missing), /invalid AUTH_PUBLIC_KEY_FILE: cannot read .*nope\.pem \(ENOENT\)/)
})

t.test('a data folder that is a file is named with the cause', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'))
  const file = join(dir, 'not-a-folder')
  await writeFile(file, 'x')
  await t.rejects(createServices(loadConfig({ DATA_DIR: file })), /invalid DATA_DIR: .*not-a-folder is not a directory/)
})
