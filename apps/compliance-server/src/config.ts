import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseMs } from '@lukeed/ms'
import { z } from 'zod'
import { parseSources } from './lists/sources.js'
import type { SourceConfig } from './lists/types.js'

/** The shipped sample data (OFAC SDN sample, UN consolidated list sample, FATF/EU country lists). */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url))

const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''))
const url = z.string().refine((s) => { try { return ['http:', 'https:'].includes(new URL(s).protocol) } catch { return false } }, 'must be an http(s) URL')
const positiveInt = z.coerce.number().int().positive()

/**
 * Parses a duration the way the Fastify ecosystem writes them (`@fastify/rate-limit` uses the same
 * parser): milliseconds `30000`, or a number with a unit, `90s`, `1 minute`, `2 minutes`, `2h`, `1.5d`.
 * Returns whole milliseconds, or `null` when the text is not a positive duration.
 *
 * @example parseDuration('1 minute') // 60000
 */
export function parseDuration (text: string): number | null {
  const trimmed = text.trim()
  if (trimmed === '' || trimmed.startsWith('-')) return null
  const ms = parseMs(trimmed)
  if (ms === undefined || !Number.isFinite(ms) || ms < 1) return null
  return Math.round(ms)
}

/** The zod form of {@link parseDuration}, for configuration and command options. */
export const durationSchema: z.ZodType<number, string> = z.string().transform((s, ctx) => {
  const ms = parseDuration(s)
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (e.g. 30000, 90s, 1 minute, 2h)` })
    return z.NEVER
  }
  return ms
})
const duration = durationSchema

/** Decimal digits only: `''`, `0x10`, `1e3`, ` 80` are not ports. */
const port = z.string().regex(/^\d{1,5}$/, 'must be a port number 0-65535 written in decimal digits').transform(Number).pipe(z.number().max(65535, 'must be a port number 0-65535'))

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i
const host = z.string().refine((s) => isIP(s) !== 0 || HOSTNAME.test(s), 'must be an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::, localhost)')

/** Development mode only when NODE_ENV is unset (or empty), `development` or `test`, compared case-insensitively. */
export function isDevelopmentEnv (nodeEnv: string | undefined): boolean {
  if (nodeEnv === undefined || nodeEnv.trim() === '') return true
  const v = nodeEnv.trim().toLowerCase()
  return v === 'development' || v === 'test'
}

const EnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  HOST: host.default('127.0.0.1'),
  PORT: port.default(3000),
  MCP_PUBLIC_URL: url.optional(),
  AUTH_ISSUER: url.optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWKS_URL: url.optional(),
  AUTH_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  AUTH_HS256_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  AUTH_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  AUTH_AUTHORIZATION_SERVERS: list.pipe(z.array(url).min(1)).optional(),
  ALLOWED_ORIGINS: list.optional(),
  ALLOWED_HOSTS: list.optional(),
  RATE_LIMIT_MAX: positiveInt.default(600),
  RATE_LIMIT_WINDOW: duration.default(60_000),
  SESSION_IDLE_TIMEOUT: duration.default(30 * 60_000),
  MAX_SESSIONS: positiveInt.default(10_000),
  MAX_SESSIONS_PER_PRINCIPAL: positiveInt.default(100),
  MAX_BATCH_SIZE: positiveInt.default(100),
  MAX_JSON_DEPTH: positiveInt.default(64),
  SSE_MAX_BUFFERED_BYTES: positiveInt.default(1024 * 1024),
  SANCTIONS_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  SANCTIONS_SOURCES: z.string().min(1).optional(),
  // 0 turns the timer off (lists are then read once, at start).
  SANCTIONS_REFRESH_INTERVAL: z.union([z.literal('0').transform(() => 0), duration]).default(3_600_000),
  SANCTIONS_MAX_AGE: duration.default(48 * 3_600_000),
  SANCTIONS_MIN_RATIO: z.coerce.number().min(0).max(1).default(0.8),
  AUDIT_LOG_FILE: z.string().min(1).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  DATA_DIR: z.string().min(1).optional(),
  XDG_DATA_HOME: z.string().min(1).optional(),
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  RETENTION_YEARS: positiveInt.default(10),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  MCP_ERAS: z.enum(['both', 'legacy', 'modern']).default('both'),
  MCP_REQUEST_STATE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_PORT: port.optional(),
  METRICS_HOST: host.optional(),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  TRANSPORT: z.enum(['http', 'stdio']).default('http'),
  MCP_STDIO_SUBJECT: z.string().min(1).optional(),
  MCP_STDIO_SCOPES: z.string().optional(),
  AUTH_MODE: z.enum(['builtin', 'external', 'dev']).optional(),
  AUTH_REGISTRATION: z.enum(['open', 'token', 'off']).optional(),
  AUTH_REGISTRATION_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  AUTH_CLIENTS_FILE: z.string().min(1).optional(),
  AUTH_USERS_FILE: z.string().min(1).optional(),
  AUTH_DEV_PASSWORD: z.string().min(1).optional(),
  AUTH_ACCESS_TOKEN_TTL: duration.default(10 * 60_000),
  AUTH_INTROSPECTION: z.enum(['on', 'off']).default('off'),
  AUTH_UPSTREAM_ISSUER: url.optional(),
  AUTH_UPSTREAM_CLIENT_ID: z.string().min(1).optional(),
  AUTH_UPSTREAM_CLIENT_SECRET: z.string().min(1).optional(),
  AUTH_UPSTREAM_SCOPE_MAP: z.string().min(1).optional()
})

export type Env = z.infer<typeof EnvSchema>

export interface Config extends Env {
  publicUrl: string
  /**
   * `external`: tokens from AUTH_ISSUER; `builtin`: the service's own authorization server under
   * /oauth; `dev`: an ephemeral key pair and a banner token (never in production).
   */
  authMode: 'builtin' | 'external' | 'dev'
  /** Where the records engine, the signing keys and the users file live (never the repository). */
  dataDir: string
  /** `open`, `token` or `off` (built-in mode). */
  registration: 'open' | 'token' | 'off'
  /** `SANCTIONS_SOURCES` parsed, or `null`: the lists of `SANCTIONS_DATA_DIR`. */
  sanctionsSources: SourceConfig[] | null
  /** LOG_FORMAT, else `pretty` in development (NODE_ENV unset/development/test) and `json` otherwise. */
  logFormat: 'json' | 'pretty'
}

/** A configuration error that names the variable; the CLI prints it as one line and exits 1. */
export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** DATA_DIR, or `$XDG_DATA_HOME/compliance-server` (`~/.local/share/compliance-server`): never the repository. */
export function dataDirOf (env: { DATA_DIR?: string | undefined, XDG_DATA_HOME?: string | undefined }): string {
  return env.DATA_DIR ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'compliance-server')
}

/** Reads and validates the environment. Throws {@link ConfigError} naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const name = String(issue?.path[0] ?? 'environment')
    throw new ConfigError(`invalid ${name}: ${issue?.message ?? 'invalid value'}`)
  }
  const e = parsed.data
  const keySources = [e.AUTH_JWKS_URL, e.AUTH_PUBLIC_KEY_FILE, e.AUTH_HS256_SECRET].filter((v) => v !== undefined).length
  if (keySources > 1) throw new ConfigError('invalid AUTH_JWKS_URL: set only one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE, AUTH_HS256_SECRET')
  const anyAuth = keySources > 0 || e.AUTH_ISSUER !== undefined
  if (anyAuth && e.AUTH_ISSUER === undefined) throw new ConfigError('invalid AUTH_ISSUER: required when a key source is set')
  if (anyAuth && keySources === 0) throw new ConfigError('invalid AUTH_JWKS_URL: one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE, AUTH_HS256_SECRET is required with AUTH_ISSUER')
  let sanctionsSources: SourceConfig[] | null = null
  if (e.SANCTIONS_SOURCES !== undefined) {
    try {
      sanctionsSources = parseSources(e.SANCTIONS_SOURCES)
    } catch (err) {
      throw new ConfigError(`invalid SANCTIONS_SOURCES: ${(err as Error).message}`)
    }
  }
  const development = isDevelopmentEnv(e.NODE_ENV)
  const authMode = e.AUTH_MODE ?? (anyAuth ? 'external' : development ? 'builtin' : null)
  if (authMode === null && e.TRANSPORT === 'http') {
    throw new ConfigError(`invalid AUTH_MODE: NODE_ENV=${e.NODE_ENV ?? ''} requires authentication: AUTH_MODE=builtin, or AUTH_ISSUER and one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE, AUTH_HS256_SECRET; development mode is only for NODE_ENV unset, development or test`)
  }
  if (authMode === 'external' && !anyAuth) throw new ConfigError('invalid AUTH_ISSUER: AUTH_MODE=external needs AUTH_ISSUER and one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE, AUTH_HS256_SECRET')
  if (authMode === 'dev' && !development) throw new ConfigError('invalid AUTH_MODE: dev is refused when NODE_ENV is production')
  const registration = e.AUTH_REGISTRATION ?? (development ? 'open' : 'token')
  if (authMode === 'builtin' && registration === 'token' && e.AUTH_REGISTRATION_TOKEN === undefined) {
    throw new ConfigError('invalid AUTH_REGISTRATION_TOKEN: required when AUTH_REGISTRATION=token (the default in production); or set AUTH_REGISTRATION=off')
  }
  const upstream = [e.AUTH_UPSTREAM_ISSUER, e.AUTH_UPSTREAM_CLIENT_ID, e.AUTH_UPSTREAM_CLIENT_SECRET].filter((v) => v !== undefined).length
  if (upstream !== 0 && upstream !== 3) throw new ConfigError('invalid AUTH_UPSTREAM_ISSUER: AUTH_UPSTREAM_ISSUER, AUTH_UPSTREAM_CLIENT_ID and AUTH_UPSTREAM_CLIENT_SECRET go together')
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    throw new ConfigError(`invalid METRICS_PORT: ${e.METRICS_PORT} is the MCP port; /metrics is served only on a port of its own`)
  }
  const host = e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST
  const publicUrl = e.MCP_PUBLIC_URL ?? `http://${host}:${e.PORT}/mcp`
  const dataDir = dataDirOf(e)
  return { ...e, publicUrl, authMode: authMode ?? 'external', dataDir, registration, sanctionsSources, logFormat: e.LOG_FORMAT ?? (development ? 'pretty' : 'json') }
}
