import t from 'tap'
import { createServer } from 'node:http'
import { createHash, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { ListManager } from '../src/lists/index.js'
import { createRedisCoordinator } from '../src/lists/redis.js'
import { until } from './helpers/wait.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
const redisUp = await probe.connect().then(() => true, () => false)
probe.disconnect()

t.test('instances converge on the list version through Redis', { skip: redisUp ? false : `no Redis at ${REDIS_URL}` }, async (t) => {
  const un = await readFile(join(DEFAULT_DATA_DIR, 'un-sample', 'consolidated.sample.xml'), 'utf8')
  let body = un
  const server = createServer((req, res) => {
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`
    if (req.headers['if-none-match'] === etag) { res.writeHead(304, { etag }).end(); return }
    res.writeHead(200, { etag }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/consolidated.xml`
  const prefix = `test:lists:${randomUUID()}:`
  const make = (): ListManager<unknown> => new ListManager({
    sources: [{ id: 'un', format: 'un-xml', url }],
    buildIndex: (e) => e,
    refreshIntervalMs: 0,
    coordinator: createRedisCoordinator(REDIS_URL, prefix)
  })
  const a = make()
  const b = make()
  t.teardown(async () => {
    await a.close()
    await b.close()
    const r = new Redis(REDIS_URL)
    await r.del(`${prefix}version`)
    r.disconnect()
  })
  await a.start()
  await b.start()
  t.equal(a.current().id, b.current().id)
  const v1 = a.current().id
  // The list changes; only instance a checks (its timer fired); b hears a's version and re-fetches.
  body = un.replace('<FIRST_NAME>JO</FIRST_NAME>', '<FIRST_NAME>JOE</FIRST_NAME>')
  await a.refresh()
  t.not(a.current().id, v1)
  await until(() => b.current().id === a.current().id)
  t.equal(b.current().id, a.current().id, 'b converged without its own timer')
})
