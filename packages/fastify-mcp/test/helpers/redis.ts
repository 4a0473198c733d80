import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { createRedisBackend, type RedisBackend } from '../../src/redis/index.js'
import type { FastifyMcpOptions } from '../../src/index.js'
import { buildApp, listen } from './http.js'
import { until } from './wait.js'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Skip reason when no Redis answers, or false; in CI a missing Redis is a failure, never a skip. */
export async function redisSkip (url = REDIS_URL): Promise<string | false> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    await r.ping()
    return false
  } catch {
    if (process.env.CI !== undefined) throw new Error(`CI: no Redis reachable at ${url}`)
    return `skipped: no Redis reachable at ${url} (set REDIS_URL)`
  } finally {
    r.disconnect()
  }
}

export interface Instance { app: FastifyInstance & { calls: { slow: number, slowAborted: number, slowStarted: number } }, url: string, backend: RedisBackend }

/** One app instance on its own Redis connections, sharing `prefix` with its siblings. */
export async function instance (prefix: string, opts: Partial<FastifyMcpOptions> = {}, url = REDIS_URL): Promise<Instance> {
  const backend = createRedisBackend({ url, prefix })
  const app = await buildApp({ ...opts, sessions: { store: backend.store, ...opts.sessions }, eventStore: backend.eventStore, bus: backend.bus })
  app.addHook('onClose', async () => { await backend.close() })
  return { app, url: await listen(app), backend }
}

export function prefix (): string {
  return `test:${randomUUID()}:`
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** A private redis-server (append-only file, so data survives a restart) that the test can stop and start. */
export class PrivateRedis {
  readonly port: number
  readonly dir = mkdtempSync(join(tmpdir(), 'redis-'))
  #proc: ChildProcess | null = null
  static readonly binary = '/usr/bin/redis-server'

  constructor (port: number) { this.port = port }
  get url (): string { return `redis://127.0.0.1:${this.port}` }

  static available (): boolean { return existsSync(PrivateRedis.binary) }

  async start (): Promise<void> {
    this.#proc = spawn(PrivateRedis.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir], { stdio: 'ignore' })
    if (!await until(async () => await redisSkip(this.url).catch(() => 'down') === false, 100, 50)) throw new Error('private redis-server did not start')
  }

  async stop (): Promise<void> {
    const p = this.#proc
    if (p === null) return
    this.#proc = null
    await new Promise<void>((resolve) => { p.once('exit', () => { resolve() }); p.kill('SIGTERM') })
  }
}
