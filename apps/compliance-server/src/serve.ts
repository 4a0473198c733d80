import { oauthStores } from './records/oauth.js'
import { userInfo } from 'node:os'
import { McpRegistry, type McpCaller } from '@mcp-fastify/fastify-mcp'
import { ALL_SCOPES, setupAuth } from './auth.js'
import { buildApp, SERVER_INFO } from './app.js'
import type { Config } from './config.js'
import { createLogger } from './logging.js'
import { createServices } from './services.js'
import { registerTools } from './tools/index.js'
import type { Otel } from './telemetry/otel.js'

/** Starts the service on HTTP (default) or stdio, and shuts it down cleanly on SIGTERM/SIGINT. */
export async function serve (config: Config, o: { otel?: Otel | null } = {}): Promise<void> {
  const otel = o.otel ?? null
  // Key material is checked before anything is loaded, so a bad key file is the one line the start prints.
  const external = config.TRANSPORT === 'http' && config.authMode !== 'builtin' ? await setupAuth(config) : null
  // One logger for the whole process, so list refreshes read like the request lines (pretty or JSON).
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.logFormat })
  const services = await createServices(config, { logger: logger.child({ component: 'lists' }) })
  if (config.TRANSPORT === 'stdio') {
    await serveStdio(config, services, otel)
    return
  }
  const builtin = config.authMode === 'builtin'
    ? await (await import('./oauth/index.js')).setupBuiltinAuth(config, { audit: services.records, ...oauthStores(services.records.db), onAuditError: (err) => { process.stderr.write(`audit of an auth event failed: ${String(err)}\n`) } })
    : null
  const { auth, devToken } = builtin ?? external ?? await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger, ...(builtin === null ? {} : { oauth: builtin }), ...(otel === null ? {} : { otel }) })
  await app.listen({ host: config.HOST, port: config.PORT })
  if (builtin !== null && builtin.devToken !== null) printBuiltinBanner(config, builtin.issuer, builtin.devPassword as string, builtin.devToken)
  else if (devToken !== null) printDevelopmentBanner(config, devToken)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => { process.exit(1) }, 15_000)
    force.unref()
    app.close()
      .then(async () => {
        await services.records.close()
        app.log.info({ commits: services.records.stats.commits, records: services.records.stats.records }, 'audit chain: records appended in commits (group commit)')
        await otel?.shutdown()
      })
      .then(() => { process.exit(0) }, (err: unknown) => { app.log.error({ err }, 'shutdown failed'); process.exit(1) })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
}

function printDevelopmentBanner (config: Config, token: string): void {
  const url = config.publicUrl
  const lines = [
    '',
    '*** DEVELOPMENT MODE: no AUTH_* configured. An ephemeral key pair signs the token below (every scope, 12 h). ***',
    '*** Never use this mode in production (NODE_ENV=production refuses to start without auth).                 ***',
    '',
    `MCP endpoint: ${url}`,
    `Token:        ${token}`,
    '',
    'MCP Inspector (CLI):',
    `  ${inspectorCommand(url, token)}`,
    `MCP Inspector (web UI): npx -y ${INSPECTOR}, then connect to the URL above with the header`,
    `  Authorization: Bearer ${token}`,
    ''
  ]
  process.stderr.write(`${lines.join('\n')}\n`)
}

/** Runs on the README's Node 20: 0.21.2 is the last Inspector that does (2.x needs Node >= 22.19); -y so npx does not ask. */
export const INSPECTOR = '@modelcontextprotocol/inspector@0.21.2'
export function inspectorCommand (url: string, token: string): string {
  return `npx -y ${INSPECTOR} --cli ${url} --transport http --header "Authorization: Bearer ${token}" --method tools/list`
}

function printBuiltinBanner (config: Config, issuer: string, password: string, token: string): void {
  const url = config.publicUrl
  const lines = [
    '',
    '*** DEVELOPMENT: the built-in authorization server signs in the development user below. ***',
    '*** In production set NODE_ENV=production and choose AUTH_MODE explicitly.              ***',
    '',
    `MCP endpoint:          ${url}   (OAuth clients: connect by this URL alone)`,
    `Authorization server:  ${issuer}`,
    `Development user:      ${DEV_USER_NAME}`,
    `Password:              ${password}${config.AUTH_DEV_PASSWORD === undefined ? '   (random per start; set AUTH_DEV_PASSWORD to fix it)' : ''}`,
    `Token:                 ${token}`,
    '',
    'MCP Inspector (CLI):',
    `  ${inspectorCommand(url, token)}`,
    ''
  ]
  process.stderr.write(`${lines.join('\n')}\n`)
}
const DEV_USER_NAME = 'analyst'

async function serveStdio (config: Config, services: Awaited<ReturnType<typeof createServices>>, otel: Otel | null): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/server/stdio')
  const caller: McpCaller = {
    subject: config.MCP_STDIO_SUBJECT ?? userInfo().username,
    clientId: 'stdio',
    issuer: 'local',
    scopes: config.MCP_STDIO_SCOPES === undefined ? [...ALL_SCOPES] : config.MCP_STDIO_SCOPES.split(/[\s,]+/).filter((x) => x !== ''),
    tokenId: null,
    expiresAt: null,
    claims: {}
  }
  const registry = new McpRegistry()
  registerTools(registry, services)
  const server = registry.createServer({
    serverInfo: SERVER_INFO,
    enforceScopes: true,
    resolve: () => ({ session: null, caller, request: null, closeStream: () => {} })
  })
  const transport = new StdioServerTransport()
  await server.connect(transport)
  const stop = (): void => {
    server.close().then(async () => { await services.records.close(); await otel?.shutdown() }).then(() => { process.exit(0) }, () => { process.exit(1) })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop)
}
