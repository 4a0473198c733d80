import { Redis, type RedisOptions } from 'ioredis'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import type { BusMessage, McpBus } from '../bus/types.js'
import { FST_MCP_UNAVAILABLE } from '../errors.js'
import { parseEventId, type EventStore, type StoredEvent } from '../events/types.js'
import { principalKey } from '../session/principal.js'
import type { SessionRecord, SessionStore } from '../session/types.js'

/** Runs a Redis call; a connection failure becomes a 503 (FST_MCP_UNAVAILABLE) instead of a hang or a 500. */
async function guarded<T> (what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw Object.assign(new FST_MCP_UNAVAILABLE(`${what} is unavailable`), { cause: err })
  }
}

type Commands = Redis & {
  mcpCreate: (zset: string, key: string, principals: string, now: number, ttl: number, limit: number, record: string, id: string, perPrincipal: number, sessionPrefix: string) => Promise<number>
  mcpTouch: (zset: string, key: string, now: number, ttl: number, id: string) => Promise<number>
  mcpGetTouch: (zset: string, key: string, now: number, ttl: number, id: string) => Promise<string | null>
  mcpClaim: (key: string, holder: string, ttl: number) => Promise<number>
  mcpRelease: (key: string, holder: string) => Promise<number>
}

function define (redis: Redis): Commands {
  redis.defineCommand('mcpCreate', {
    numberOfKeys: 3,
    // Atomically: drop expired ids from the index, refuse past the limit, count the principal's live
    // sessions (forgetting ended ones) and refuse past its cap, store the record with its TTL.
    lua: `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local per = tonumber(ARGV[6])
if per > 0 then
  local n = 0
  for _, sid in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if redis.call('EXISTS', ARGV[7] .. sid) == 1 then n = n + 1 else redis.call('SREM', KEYS[3], sid) end
  end
  if n >= per then return 2 end
  redis.call('SADD', KEYS[3], ARGV[5])
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[5])
return 1`
  })
  redis.defineCommand('mcpTouch', {
    numberOfKeys: 2,
    lua: `if redis.call('PEXPIRE', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
return 1`
  })
  redis.defineCommand('mcpGetTouch', {
    numberOfKeys: 2,
    lua: `local v = redis.call('GET', KEYS[2])
if not v then return false end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
return v`
  })
  redis.defineCommand('mcpClaim', {
    numberOfKeys: 1,
    lua: `local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`
  })
  redis.defineCommand('mcpRelease', {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
  })
  return redis as Commands
}

export interface RedisBackendOptions {
  /** `redis://…` URL, or ioredis options. */
  url?: string
  redis?: RedisOptions
  /** Key prefix, so that several deployments can share one Redis. Default `mcp:`. */
  prefix?: string
  /** Most events kept per stream (approximate trim). Default 1,000. */
  maxEventsPerStream?: number
  /** Stored events expire this long after the last append to their stream. Default 1 hour. */
  eventTtlMs?: number
}

/**
 * Session records in Redis: `<prefix>s:<id>` holds the JSON record with a TTL equal to the idle timeout
 * (refreshed on every request), `<prefix>sessions` is a sorted set of ids by expiry time (counting,
 * listing, reporting expiries), `<prefix>c:<id>:<stream>` claims the reader of a GET stream.
 */
export class RedisSessionStore implements SessionStore {
  readonly #r: Commands
  readonly #p: string
  #idle = 30 * 60_000
  #onExpired: (id: string) => void = () => {}
  #timer: NodeJS.Timeout | null = null

  constructor (redis: Redis, prefix: string) {
    this.#r = define(redis)
    this.#p = prefix
  }

  #key (id: string): string { return `${this.#p}s:${id}` }
  get #index (): string { return `${this.#p}sessions` }

  init (options: { idleTimeoutMs: number, onExpired: (id: string) => void }): void {
    this.#idle = options.idleTimeoutMs
    this.#onExpired = options.onExpired
    const every = Math.max(250, Math.min(Math.floor(options.idleTimeoutMs / 2), 30_000))
    this.#timer = setInterval(() => { void this.#sweep().catch(() => {}) }, every)
    this.#timer.unref()
  }

  /** Reports expired sessions once across all instances: whoever removes an id from the index reports it. */
  async #sweep (): Promise<void> {
    const ids = await this.#r.zrangebyscore(this.#index, '-inf', Date.now(), 'LIMIT', 0, 500)
    for (const id of ids) {
      if (await this.#r.exists(this.#key(id)) === 1) continue
      if (await this.#r.zrem(this.#index, id) === 1) this.#onExpired(id)
    }
  }

  async create (record: SessionRecord, limit: number, perPrincipal?: number): Promise<boolean | 'principal'> {
    const principal = principalKey(record.principal)
    const cap = principal === null || perPrincipal === undefined ? 0 : perPrincipal
    const set = `${this.#p}p:${principal ?? ''}`
    const done = await guarded('the session store', async () =>
      await this.#r.mcpCreate(this.#index, this.#key(record.id), set, Date.now(), this.#idle, limit, JSON.stringify(record), record.id, cap, `${this.#p}s:`))
    return done === 2 ? 'principal' : done === 1
  }

  async get (id: string, touch = false): Promise<SessionRecord | null> {
    const raw = await guarded('the session store', async () => touch
      ? await this.#r.mcpGetTouch(this.#index, this.#key(id), Date.now(), this.#idle, id)
      : await this.#r.get(this.#key(id)))
    return raw === null ? null : JSON.parse(raw) as SessionRecord
  }

  async touch (id: string): Promise<boolean> {
    return await guarded('the session store', async () => await this.#r.mcpTouch(this.#index, this.#key(id), Date.now(), this.#idle, id) === 1)
  }

  async update (id: string, patch: Partial<Pick<SessionRecord, 'logLevel' | 'subscriptions'>>): Promise<void> {
    await guarded('the session store', async () => {
      const raw = await this.#r.get(this.#key(id))
      if (raw === null) return
      await this.#r.set(this.#key(id), JSON.stringify({ ...JSON.parse(raw) as SessionRecord, ...patch }), 'KEEPTTL')
    })
  }

  async delete (id: string): Promise<boolean> {
    return await guarded('the session store', async () => {
      const [[, removed]] = await this.#r.multi().del(this.#key(id)).zrem(this.#index, id).exec() as [[unknown, number], [unknown, number]]
      return removed === 1
    })
  }

  async count (): Promise<number> {
    return await guarded('the session store', async () => await this.#r.zcount(this.#index, Date.now(), '+inf'))
  }

  async list (limit = 1000): Promise<SessionRecord[]> {
    return await guarded('the session store', async () => {
      const ids = await this.#r.zrangebyscore(this.#index, Date.now(), '+inf', 'LIMIT', 0, limit)
      if (ids.length === 0) return []
      const raws = await this.#r.mget(ids.map((id) => this.#key(id)))
      return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as SessionRecord)
    })
  }

  async claimStream (sessionId: string, streamId: string, holder: string, ttlMs: number): Promise<boolean> {
    return await guarded('the session store', async () => await this.#r.mcpClaim(`${this.#p}c:${sessionId}:${streamId}`, holder, ttlMs) === 1)
  }

  async releaseStream (sessionId: string, streamId: string, holder: string): Promise<void> {
    await guarded('the session store', async () => { await this.#r.mcpRelease(`${this.#p}c:${sessionId}:${streamId}`, holder) })
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
  }
}

/**
 * SSE events in Redis Streams: `<prefix>e:<session>:<stream>` (trimmed to about `maxEventsPerStream`,
 * expiring `eventTtlMs` after the last append); `<prefix>es:<session>` lists a session's streams.
 * Event ids are `<stream>_<Redis stream id>`, so ordering and uniqueness come from Redis.
 */
export class RedisEventStore implements EventStore {
  readonly #r: Redis
  readonly #p: string
  readonly #max: number
  readonly #ttl: number

  constructor (redis: Redis, prefix: string, options: { maxEventsPerStream?: number, eventTtlMs?: number } = {}) {
    this.#r = redis
    this.#p = prefix
    this.#max = options.maxEventsPerStream ?? 1000
    this.#ttl = options.eventTtlMs ?? 3_600_000
  }

  #key (sessionId: string, streamId: string): string { return `${this.#p}e:${sessionId}:${streamId}` }

  async append (sessionId: string, streamId: string, message: JSONRPCMessage | null, final: boolean): Promise<string> {
    return await guarded('the event store', async () => {
      const key = this.#key(sessionId, streamId)
      const streams = `${this.#p}es:${sessionId}`
      const results = await this.#r.multi()
        .xadd(key, 'MAXLEN', '~', this.#max, '*', 'm', message === null ? '' : JSON.stringify(message), 'f', final ? '1' : '0')
        .pexpire(key, this.#ttl)
        .sadd(streams, streamId)
        .pexpire(streams, this.#ttl)
        .exec()
      const id = results?.[0]?.[1]
      if (typeof id !== 'string') throw new Error('XADD returned no id')
      return `${streamId}_${id}`
    })
  }

  async replayAfter (sessionId: string, lastEventId: string): Promise<{ streamId: string, events: StoredEvent[] } | null> {
    const parsed = parseEventId(lastEventId)
    if (parsed === null || parsed.seq.length !== 2) return null
    return await guarded('the event store', async () => {
      const key = this.#key(sessionId, parsed.streamId)
      const after = parsed.seq.join('-')
      const [last] = await this.#r.xrevrange(key, '+', '-', 'COUNT', 1)
      if (last === undefined) return null
      const [lastMs = 0, lastN = 0] = last[0].split('-').map(Number)
      const [ms = 0, n = 0] = parsed.seq
      if (ms > lastMs || (ms === lastMs && n > lastN)) return null
      const entries = await this.#r.xrange(key, `(${after}`, '+')
      return {
        streamId: parsed.streamId,
        events: entries.map(([id, fields]) => {
          const m = fields[fields.indexOf('m') + 1] ?? ''
          return { id: `${parsed.streamId}_${id}`, message: m === '' ? null : JSON.parse(m) as JSONRPCMessage, final: fields[fields.indexOf('f') + 1] === '1' }
        })
      }
    })
  }

  async deleteSession (sessionId: string): Promise<void> {
    await guarded('the event store', async () => {
      const streams = await this.#r.smembers(`${this.#p}es:${sessionId}`)
      const keys = [...streams.map((s) => this.#key(sessionId, s)), `${this.#p}es:${sessionId}`]
      await this.#r.del(...keys)
    })
  }

  async close (): Promise<void> {}
}

/** The bus over Redis pub/sub, one channel `<prefix>bus`; needs its own subscriber connection. */
export class RedisBus implements McpBus {
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #channel: string
  readonly #handlers = new Set<(m: BusMessage) => void>()
  #subscribed: Promise<unknown> | null = null

  constructor (pub: Redis, sub: Redis, prefix: string) {
    this.#pub = pub
    this.#sub = sub
    this.#channel = `${prefix}bus`
    this.#sub.on('message', (channel: string, payload: string) => {
      if (channel !== this.#channel) return
      let message: BusMessage
      try { message = JSON.parse(payload) as BusMessage } catch { return }
      for (const h of this.#handlers) h(message)
    })
    // After any reconnect, subscribe again (idempotent in Redis): the bus must not go deaf while the instance serves.
    this.#sub.on('ready', () => { if (this.#handlers.size > 0) this.#resubscribe() })
  }

  #resubscribe (): void {
    this.#subscribed = this.#sub.subscribe(this.#channel)
    this.#subscribed.catch(() => { this.#subscribed = null })
  }

  async publish (message: BusMessage): Promise<number> {
    // PUBLISH answers how many subscriber connections got the message (one per instance).
    const receivers = await guarded('the message bus', async () => await this.#pub.publish(this.#channel, JSON.stringify(message)))
    if (receivers === 0 && this.#handlers.size > 0) {
      // Every subscribed instance counts itself: none means this instance lost its subscription. Deliver
      // the message here as the channel would have, and subscribe again for what comes next.
      this.#resubscribe()
      for (const h of this.#handlers) h(JSON.parse(JSON.stringify(message)) as BusMessage)
    }
    return receivers
  }

  async subscribe (handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    this.#handlers.add(handler)
    this.#subscribed ??= this.#sub.subscribe(this.#channel)
    await this.#subscribed
    return async () => { this.#handlers.delete(handler) }
  }

  async close (): Promise<void> {
    this.#handlers.clear()
  }
}

/** The Redis pieces of one app: a session store, an event store and a bus over two connections. */
export interface RedisBackend {
  store: RedisSessionStore
  eventStore: RedisEventStore
  bus: RedisBus
  /** Resolves when Redis answers PING (for readiness probes). */
  ping: () => Promise<boolean>
  /** Closes both connections (call from the app's onClose hook, after the plugin has closed). */
  close: () => Promise<void>
}

/**
 * Connects to Redis (or Valkey) for scale-out. Commands fail fast while Redis is unreachable
 * (the plugin answers 503) and the connection recovers by itself.
 *
 * @example
 * const redis = createRedisBackend({ url: process.env.REDIS_URL })
 * await app.register(fastifyMcp, { serverInfo, sessions: { store: redis.store }, eventStore: redis.eventStore, bus: redis.bus })
 * app.addHook('onClose', redis.close)
 */
export function createRedisBackend (options: RedisBackendOptions = {}): RedisBackend {
  const prefix = options.prefix ?? 'mcp:'
  const base: RedisOptions = {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    ...options.redis
  }
  const connect = (extra: RedisOptions = {}): Redis => options.url === undefined ? new Redis({ ...base, ...extra }) : new Redis(options.url, { ...base, ...extra })
  const main = connect()
  const sub = connect({ enableOfflineQueue: true })
  const swallow = (): void => {}
  main.on('error', swallow)
  sub.on('error', swallow)
  return {
    store: new RedisSessionStore(main, prefix),
    eventStore: new RedisEventStore(main, prefix, options),
    bus: new RedisBus(main, sub, prefix),
    ping: async () => {
      try { return await main.ping() === 'PONG' } catch { return false }
    },
    close: async () => {
      main.disconnect()
      sub.disconnect()
    }
  }
}
