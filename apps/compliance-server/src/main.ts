#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, parseDuration } from './config.js'

const USAGE = `usage: compliance-server [serve|mint-token|verify-audit] [options]
  serve                         start the service (default); configured by the environment
  mint-token --sub S --scopes "a b" [--ttl 10m] [--client-id C] [--aud A]
                                sign a token with AUTH_HS256_SECRET or AUTH_PRIVATE_KEY_FILE
  verify-audit FILE             check the hash chain of an audit log`

async function serveCommand (): Promise<void> {
  const config = loadConfig()
  const { serve } = await import('./serve.js')
  await serve(config)
}

async function mintCommand (args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { sub: { type: 'string' }, scopes: { type: 'string' }, ttl: { type: 'string', default: '10m' }, 'client-id': { type: 'string' }, aud: { type: 'string' } },
    strict: true
  })
  if (values.sub === undefined || values.scopes === undefined) throw new ConfigError('mint-token needs --sub and --scopes')
  const ttlMs = parseDuration(values.ttl ?? '10m')
  if (ttlMs === null) throw new ConfigError(`invalid --ttl: "${values.ttl ?? ''}" is not a duration (e.g. 600000, 90s, 10 minutes, 2h)`)
  const config = loadConfig()
  const { mintToken } = await import('./auth.js')
  const token = await mintToken(config, {
    subject: values.sub,
    scopes: values.scopes.split(/[\s,]+/).filter((s) => s !== ''),
    ttl: `${Math.max(1, Math.round(ttlMs / 1000))}s`,
    clientId: values['client-id'],
    audience: values.aud
  })
  process.stdout.write(`${token}\n`)
}

async function verifyCommand (args: string[]): Promise<void> {
  const file = args[0]
  if (file === undefined) throw new ConfigError('verify-audit needs a FILE')
  const { verifyAuditFile } = await import('./domain/audit.js')
  const result = await verifyAuditFile(file)
  if (result.ok) {
    process.stdout.write(`ok: ${result.lines} lines, chain intact\n`)
  } else {
    process.stdout.write(`broken at line ${result.line}: ${result.reason}\n`)
    process.exitCode = 2
  }
}

async function main (argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv
  switch (command) {
    case 'serve': return await serveCommand()
    case 'mint-token': return await mintCommand(rest)
    case 'verify-audit': return await verifyCommand(rest)
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return
    default:
      throw new ConfigError(`unknown command "${command}"\n${USAGE}`)
  }
}

// Run through a package script (`pnpm --filter compliance-server verify-audit FILE`), pnpm starts us in
// the package's folder; relative paths are meant from where the user typed the command.
if (process.env.npm_lifecycle_event !== undefined && process.env.INIT_CWD !== undefined && process.env.INIT_CWD !== '') {
  process.chdir(process.env.INIT_CWD)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof ConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ? (err as Error).message
    : `fatal: ${(err as Error)?.message ?? String(err)}`
  process.stderr.write(`compliance-server: ${message}\n`)
  process.exit(1)
})
