#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, parseDuration } from './config.js'
import type { SigningKey } from './records/chain.js'

const USAGE = `usage: compliance-server [serve|mint-token|verify-audit|export-audit|purge-records|fetch-lists|list-info|add-user|rotate-signing-key|screen-file] [options]
  serve                         start the service (default); configured by the environment
  mint-token --sub S --scopes "a b" [--ttl 10m] [--client-id C] [--aud A]
                                sign a token with AUTH_HS256_SECRET or AUTH_PRIVATE_KEY_FILE
  verify-audit [FILE] [--public-key PEM]
                                check the audit chain: an NDJSON file (old log or export), or without FILE the
                                records store (DATABASE_URL, else the embedded engine in DATA_DIR)
  export-audit [--since DATE]   write the chain as NDJSON to stdout (with --since: from a checkpoint, verifiable alone)
  purge-records --before DATE   delete records older than DATE (refused inside RETENTION_YEARS); audited
  fetch-lists --out DIR         download the configured sanctions lists (SANCTIONS_SOURCES or
                                SANCTIONS_DATA_DIR) into DIR for an air-gapped deployment
  list-info FILE                print what a list file (or OFAC CSV folder) is and its publication date
  add-user USERNAME --scopes "a b" [--users-file F]
                                add or replace a user of the built-in authorization server;
                                the password is the first line of standard input
  rotate-signing-key [--keep N] built-in authorization server: the published next key signs from each instance's
                                next start, a new next key is published, N retired keys stay (default 1); audited
  screen-file IN.csv --out OUT.csv [--threshold T] [--data DIR]
                                screen a customer file (header: name, optional ref,type,birthDate,country,nationality)`

async function serveCommand (): Promise<void> {
  let config = loadConfig()
  if (config.TRANSPORT === 'http' && config.PORT === 0) {
    // PORT=0 asks for any free port: take one now, so the public URL, the issuer and the banner name the real one.
    config = loadConfig({ ...process.env, PORT: String(await freePort(config.HOST)) })
  }
  // Telemetry first (when OTEL_* asks for it), so that the providers exist before anything makes a span.
  const { startOtel } = await import('./telemetry/otel.js')
  const otel = await startOtel(process.env)
  const { serve } = await import('./serve.js')
  await serve(config, { otel })
}

async function freePort (host: string): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => { resolve(port) })
    })
  })
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

async function signingKey (file: string | undefined): Promise<SigningKey | null> {
  const config = loadConfig()
  const { join } = await import('node:path')
  const { SigningKey } = await import('./records/chain.js')
  const path = file ?? config.AUDIT_SIGNING_KEY_FILE ?? join(config.dataDir, 'audit-signing-key.pem')
  return await SigningKey.load(path, false).catch(() => null)
}

async function verifyCommand (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { 'public-key': { type: 'string' } }, allowPositionals: true, strict: true })
  const { describe, verifyNdjson } = await import('./records/verify.js')
  const file = positionals[0]
  let result
  if (file !== undefined) {
    const { readFile } = await import('node:fs/promises')
    result = verifyNdjson(await readFile(file, 'utf8'), await signingKey(values['public-key']))
    process.stdout.write(`${describe(result, 'lines')}\n`)
  } else {
    const { openRecords } = await import('./services.js')
    const records = await openRecords(loadConfig())
    try {
      const key = values['public-key'] === undefined ? records.key : await signingKey(values['public-key'])
      result = await records.verify(key)
      process.stdout.write(`${describe(result, `records (${records.engine})`)}\n`)
    } finally {
      await records.close()
    }
  }
  if (!result.ok) process.exitCode = 2
}

function parseDate (name: string, value: string | undefined): Date {
  const d = value === undefined ? Number.NaN : Date.parse(value)
  if (Number.isNaN(d)) throw new ConfigError(`${name} needs a date (YYYY-MM-DD or an ISO date-time)`)
  return new Date(d)
}

async function exportCommand (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { since: { type: 'string' } }, strict: true })
  const since = values.since === undefined ? undefined : parseDate('--since', values.since)
  const { openRecords } = await import('./services.js')
  const records = await openRecords(loadConfig())
  try {
    for await (const line of records.lines(since === undefined ? {} : { since })) {
      if (!process.stdout.write(`${JSON.stringify(line)}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve))
    }
  } finally {
    await records.close()
  }
}

async function purgeCommand (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { before: { type: 'string' } }, strict: true })
  const before = parseDate('purge-records --before', values.before)
  const { userInfo } = await import('node:os')
  const { randomUUID } = await import('node:crypto')
  const { openRecords } = await import('./services.js')
  const config = loadConfig()
  const records = await openRecords(config)
  const caller = { subject: userInfo().username, clientId: 'cli', issuer: 'local', scopes: [] }
  const base = { requestId: randomUUID(), tool: 'purge-records', at: new Date().toISOString(), caller, input: { before: before.toISOString() } }
  try {
    let r
    try {
      r = await records.purge(before)
    } catch (err) {
      await records.append({ ...base, outcome: 'refused', error: (err as Error).message })
      throw new ConfigError((err as Error).message)
    }
    await records.append({ ...base, outcome: 'ok', effects: r })
    await records.checkpoint()
    process.stdout.write(`purged: ${r.auditDeleted} audit record(s) through ${r.auditThrough} (anchored by a signed checkpoint), ${r.alertsDeleted} alert(s) with their decisions and notes\n`)
  } finally {
    await records.close()
  }
}

async function fetchListsCommand (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true })
  if (values.out === undefined) throw new ConfigError('fetch-lists needs --out DIR')
  const config = loadConfig()
  const { sourcesOfDir } = await import('./lists/sources.js')
  const { fetchLists } = await import('./lists/cli.js')
  const { lines, failed } = await fetchLists(config.sanctionsSources ?? await sourcesOfDir(config.SANCTIONS_DATA_DIR), values.out)
  process.stdout.write(`${lines.join('\n')}\n`)
  if (failed > 0) process.exitCode = 2
}

async function listInfoCommand (args: string[]): Promise<void> {
  const file = args[0]
  if (file === undefined) throw new ConfigError('list-info needs a FILE')
  const { listInfo } = await import('./lists/cli.js')
  process.stdout.write(`${await listInfo(file)}\n`)
}

async function addUserCommand (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { scopes: { type: 'string' }, 'users-file': { type: 'string' } }, allowPositionals: true, strict: true })
  const username = positionals[0]
  if (username === undefined || values.scopes === undefined) throw new ConfigError('add-user needs USERNAME and --scopes')
  const { readFirstLine, addUser } = await import('./oauth/users.js')
  const password = await readFirstLine(process.stdin)
  if (password === '') throw new ConfigError('add-user reads the password from the first line of standard input; it was empty')
  const { join } = await import('node:path')
  const { dataDirOf } = await import('./config.js')
  const file = values['users-file'] ?? process.env.AUTH_USERS_FILE ?? join(dataDirOf(process.env), 'users.json')
  const scopes = values.scopes.split(/[\s,]+/).filter((s) => s !== '')
  await addUser(file, username, password, scopes)
  process.stdout.write(`added ${username} (${scopes.join(' ')}) to ${file}\n`)
}

async function rotateKeyCommand (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { keep: { type: 'string' } }, strict: true })
  const keep = values.keep === undefined ? 1 : Number(values.keep)
  if (!Number.isInteger(keep) || keep < 1) throw new ConfigError('rotate-signing-key --keep needs a whole number of at least 1')
  const { userInfo } = await import('node:os')
  const { randomUUID } = await import('node:crypto')
  const { openRecords } = await import('./services.js')
  const { RecordsKeyRows } = await import('./records/oauth.js')
  const { rotateKeyRing } = await import('./oauth/keys.js')
  const records = await openRecords(loadConfig())
  try {
    const ring = await rotateKeyRing(new RecordsKeyRows(records.db), keep)
    const effects = { active: ring.active, next: ring.next, retired: ring.retired }
    await records.append({ requestId: randomUUID(), tool: 'rotate-signing-key', at: new Date().toISOString(), caller: { subject: userInfo().username, clientId: 'cli', issuer: 'local', scopes: [] }, input: { keep }, outcome: 'ok', effects })
    process.stdout.write(`signing key ${ring.active} signs from each instance's next start (restart them one by one: every instance already publishes it);\n` +
      `next key ${ring.next} is published from each instance's next start; retired key(s) still published: ${ring.retired.join(', ') || 'none'}\n`)
  } finally {
    await records.close()
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
    case 'export-audit': return await exportCommand(rest)
    case 'purge-records': return await purgeCommand(rest)
    case 'fetch-lists': return await fetchListsCommand(rest)
    case 'list-info': return await listInfoCommand(rest)
    case 'add-user': return await addUserCommand(rest)
    case 'rotate-signing-key': return await rotateKeyCommand(rest)
    case 'screen-file': return await screenFileCommand(rest)
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
