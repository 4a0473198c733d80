import { isIP } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parse as parseMs } from '@lukeed/ms'
import { z } from 'zod'

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
  SANCTIONS_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  AUDIT_LOG_FILE: z.string().min(1).default('compliance-audit.ndjson'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  MCP_ERAS: z.enum(['both', 'legacy', 'modern']).default('both'),
  MCP_REQUEST_STATE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_PORT: port.optional(),
  METRICS_HOST: host.optional(),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  TRANSPORT: z.enum(['http', 'stdio']).default('http'),
  MCP_STDIO_SUBJECT: z.string().min(1).optional(),
  MCP_STDIO_SCOPES: z.string().optional()
})

export type Env = z.infer<typeof EnvSchema>

export interface Config extends Env {
  publicUrl: string
  /** `configured`: AUTH_* given; `development`: an ephemeral key pair is made at start. */
  authMode: 'configured' | 'development'
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
  if (!anyAuth && !isDevelopmentEnv(e.NODE_ENV) && e.TRANSPORT === 'http') {
    throw new ConfigError(`invalid AUTH_ISSUER: NODE_ENV=${e.NODE_ENV ?? ''} requires authentication (AUTH_ISSUER and one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE, AUTH_HS256_SECRET); development mode is only for NODE_ENV unset, development or test`)
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    throw new ConfigError(`invalid METRICS_PORT: ${e.METRICS_PORT} is the MCP port; /metrics is served only on a port of its own`)
  }
  const host = e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST
  const publicUrl = e.MCP_PUBLIC_URL ?? `http://${host}:${e.PORT}/mcp`
  return { ...e, publicUrl, authMode: anyAuth ? 'configured' : 'development', logFormat: e.LOG_FORMAT ?? (isDevelopmentEnv(e.NODE_ENV) ? 'pretty' : 'json') }
}
