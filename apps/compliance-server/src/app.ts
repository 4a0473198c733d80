import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import fastifyMcp, { type AuthOptions } from '@mcp-fastify/fastify-mcp'
import { createRedisBackend, type RedisBackend } from '@mcp-fastify/fastify-mcp/redis'
import type { Config } from './config.js'
import { auditRefusal } from './records/refusal.js'
import { createLogger, OneLineLogController } from './logging.js'
import { createMetrics, startMetricsServer } from './telemetry/metrics.js'
import { registerTools, type Services } from './tools/index.js'
import { announceChanges, registerResources } from './resources/index.js'
import { registerPrompts } from './prompts/index.js'
import type { Otel } from './telemetry/otel.js'

export const SERVER_INFO = { name: 'compliance-server', title: 'Compliance tools', version: '0.1.0' }

const INSTRUCTIONS = 'Sanctions screening (OFAC SDN, UN consolidated list), jurisdiction risk (FATF, EU), IBAN/BIC/LEI validation, ' +
  'alert triage and decisions with case notes. Every result carries an audit stamp naming the verified caller. ' +
  'Screening hits are candidates for review, never a determination; record the analyst decision with record_decision.'

const ReadySchema = z.object({
  status: z.enum(['ready', 'not ready']),
  checks: z.object({ sanctionsLists: z.boolean(), listsFresh: z.boolean(), auditLog: z.boolean(), records: z.boolean(), redis: z.boolean().nullable() }),
  listVersion: z.string(),
  sources: z.array(z.object({ id: z.string(), kind: z.enum(['url', 'path']), ageSeconds: z.number(), lastSuccessAt: z.string().nullable(), lastError: z.string().nullable(), stale: z.boolean() }))
})

declare module 'fastify' {
  interface FastifyInstance {
    /** The `/metrics` listener (METRICS_PORT), started with the app's `listen`; null when not configured. */
    metricsServer: FastifyInstance | null
  }
}

export interface BuildOptions {
  config: Config
  auth: AuthOptions
  services: Services
  /** false: no logging (tests); a logger: the one the rest of the process writes to; default: one made from the config. */
  logger?: false | FastifyBaseLogger
  /** The built-in authorization server's routes (AUTH_MODE=builtin). */
  oauth?: { register: (app: FastifyInstance) => Promise<void> }
  /** The OpenTelemetry SDK (OTEL_*): its `@fastify/otel` plugin is registered before anything else. */
  otel?: Otel
}

/** The HTTP service: MCP endpoint, health and readiness probes, Redis when configured. */
export async function buildApp (o: BuildOptions): Promise<FastifyInstance> {
  const { config } = o
  const app = Fastify({
    ...(o.logger === false ? { logger: false } : { loggerInstance: o.logger ?? createLogger({ level: config.LOG_LEVEL, format: config.logFormat }) }),
    logController: new OneLineLogController(),
    genReqId: () => randomUUID(),
    // SSE streams must not hold shutdown hostage; the plugin ends them in preClose.
    forceCloseConnections: 'idle'
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  if (o.otel !== undefined) await app.register(o.otel.fastifyPlugin)

  let redis: RedisBackend | null = null
  if (config.REDIS_URL !== undefined) redis = createRedisBackend({ url: config.REDIS_URL })

  const metrics = config.METRICS_PORT === undefined ? undefined : createMetrics(() => o.services.datasets)
  await app.register(fastifyMcp, {
    serverInfo: SERVER_INFO,
    instructions: INSTRUCTIONS,
    auth: o.auth,
    sessions: {
      idleTimeoutMs: config.SESSION_IDLE_TIMEOUT,
      maxSessions: config.MAX_SESSIONS,
      maxPerPrincipal: config.MAX_SESSIONS_PER_PRINCIPAL,
      ...(redis === null ? {} : { store: redis.store })
    },
    ...(redis === null ? {} : { eventStore: redis.eventStore, bus: redis.bus }),
    ...(config.ALLOWED_HOSTS === undefined ? {} : { allowedHosts: config.ALLOWED_HOSTS }),
    ...(config.ALLOWED_ORIGINS === undefined ? {} : { allowedOrigins: config.ALLOWED_ORIGINS, cors: { origins: config.ALLOWED_ORIGINS } }),
    rateLimit: { max: config.RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW },
    maxBatchSize: config.MAX_BATCH_SIZE,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    sse: { maxBufferedBytes: config.SSE_MAX_BUFFERED_BYTES },
    eras: config.MCP_ERAS,
    ...(config.MCP_REQUEST_STATE_SECRET === undefined ? {} : { modern: { requestStateSecret: config.MCP_REQUEST_STATE_SECRET } }),
    onRefusal: async (refusal) => {
      metrics?.observeRefusal(refusal)
      await auditRefusal(o.services.records, refusal)
    }
  })
  registerTools(app.mcp.registry, metrics === undefined ? o.services : { ...o.services, metrics })
  app.decorate('metricsServer', null)
  if (metrics !== undefined) {
    metrics.observeSessions(app.mcp)
    metrics.observeRecords(o.services.records)
    const metricsPort = config.METRICS_PORT as number
    app.addHook('onListen', async function startMetrics () {
      app.metricsServer = await startMetricsServer(metrics, config.METRICS_HOST ?? config.HOST, metricsPort)
    })
    app.addHook('onClose', async function stopMetrics () { await app.metricsServer?.close() })
  }
  registerResources(app.mcp.registry, o.services)
  registerPrompts(app.mcp.registry, o.services)
  const stopAnnouncing = announceChanges(o.services, app.mcp, (err) => { app.log.warn({ err }, 'a resource update could not be announced') })
  app.addHook('onClose', async () => { stopAnnouncing() })
  if (o.oauth !== undefined) await o.oauth.register(app)

  app.addHook('onClose', async () => { await o.services.lists.close() })
  if (redis !== null) {
    const backend = redis
    app.addHook('onClose', async () => { await backend.close() })
  }

  const route = app.withTypeProvider<ZodTypeProvider>()
  route.get('/health', { schema: { response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }))
  route.get('/ready', { schema: { response: { 200: ReadySchema, 503: ReadySchema } } }, async (_request, reply) => {
    const lists = o.services.lists
    const sanctionsLists = lists.current().index.recordCount() > 0
    const sources = lists.status().map(({ id, kind, ageSeconds, lastSuccessAt, lastError, stale }) => ({ id, kind, ageSeconds, lastSuccessAt, lastError, stale }))
    const listsFresh = sources.every((x) => !x.stale)
    // The audit chain lives in the records store: one check answers for both.
    const records = await o.services.records.ready()
    const redisOk = redis === null ? null : await redis.ping()
    const ok = sanctionsLists && listsFresh && records && redisOk !== false
    return await reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks: { sanctionsLists, listsFresh, auditLog: records, records, redis: redisOk }, listVersion: lists.current().id, sources })
  })
  return app
}
