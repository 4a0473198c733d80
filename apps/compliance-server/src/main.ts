#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.js'

const USAGE = `usage: compliance-server [serve|mint-token|verify-audit] [options]
  serve                         start the service (default); configured by the environment
  mint-token --sub S --scopes "a b" [--ttl 10m] [--client-id C] [--aud A]
                                sign a token with AUTH_HS256_SECRET or AUTH_PRIVATE_KEY_FILE
  verify-audit FILE             check the hash chain of an audit log
  screen-file IN.csv --out OUT.csv [--threshold T] [--data DIR]
                                screen a customer file (header: name, optional ref,type,birthDate,country,nationality)`

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
  const config = loadConfig()
  const { mintToken } = await import('./auth.js')
  const token = await mintToken(config, {
    subject: values.sub,
    scopes: values.scopes.split(/[\s,]+/).filter((s) => s !== ''),
    ttl: values.ttl ?? '10m',
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

async function screenFileCommand (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { out: { type: 'string' }, threshold: { type: 'string' }, data: { type: 'string' } }, allowPositionals: true, strict: true })
  const input = positionals[0]
  if (input === undefined || values.out === undefined) throw new ConfigError('screen-file needs IN.csv and --out OUT.csv')
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold)
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new ConfigError('--threshold must be a number from 0 to 1')
  const { DEFAULT_DATA_DIR } = await import('./config.js')
  const { screenFile } = await import('./screen-file.js')
  const r = await screenFile({ input, output: values.out, dataDir: values.data ?? process.env.SANCTIONS_DATA_DIR ?? DEFAULT_DATA_DIR, threshold, progress: process.stderr })
  process.stdout.write(`${r.rows} subjects screened, ${r.withHits} with hits: ${values.out}\n`)
}

async function main (argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv
  switch (command) {
    case 'serve': return await serveCommand()
    case 'mint-token': return await mintCommand(rest)
    case 'verify-audit': return await verifyCommand(rest)
    case 'screen-file': return await screenFileCommand(rest)
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return
    default:
      throw new ConfigError(`unknown command "${command}"\n${USAGE}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof ConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ? (err as Error).message
    : `fatal: ${(err as Error)?.message ?? String(err)}`
  process.stderr.write(`compliance-server: ${message}\n`)
  process.exit(1)
})
