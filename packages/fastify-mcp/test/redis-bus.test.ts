import t from 'tap'
import { Redis } from 'ioredis'
import { RedisBus } from '../src/redis/index.js'
import type { BusMessage } from '../src/bus/types.js'
import { REDIS_URL, prefix, redisSkip } from './helpers/redis.js'
import { until } from './helpers/wait.js'

const skip = await redisSkip()

function connections (t: { teardown: (fn: () => unknown) => void }): { pub: Redis, sub: Redis } {
  const pub = new Redis(REDIS_URL)
  const sub = new Redis(REDIS_URL)
  t.teardown(() => { pub.disconnect(); sub.disconnect() })
  return { pub, sub }
}

const note = (uri: string): BusMessage => ({ kind: 'broadcast', message: { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } }, uri })
const uris = (got: BusMessage[]): Array<string | null> => got.map((m) => (m as { uri: string | null }).uri)

t.test('a bus that lost its subscription still delivers what it publishes, and hears the others again', { skip }, async (t) => {
  const p = prefix()
  const a = connections(t)
  const b = connections(t)
  const busA = new RedisBus(a.pub, a.sub, p)
  const busB = new RedisBus(b.pub, b.sub, p)
  const heardA: BusMessage[] = []
  await busA.subscribe((m) => { heardA.push(m) })
  await busB.subscribe(() => {})
  t.equal(await busB.publish(note('x://1')), 2, 'both instances counted')
  t.ok(await until(() => heardA.length === 1), 'A hears B')

  // A's subscriber connection loses the channel (as after a reconnect that did not resubscribe).
  await a.sub.unsubscribe(`${p}bus`)
  await b.sub.unsubscribe(`${p}bus`)
  t.equal(await busA.publish(note('x://2')), 0, 'nobody listened on the channel')
  t.same(uris(heardA), ['x://1', 'x://2'], 'A delivered its own message itself')
  t.ok(await until(async () => await busB.publish(note('x://3')) >= 1), 'A subscribed again')
  t.ok(await until(() => heardA.some((m) => (m as { uri: string }).uri === 'x://3')), 'A hears B again')
})

t.test('after its connection drops, the bus subscribes again when the connection is ready', { skip }, async (t) => {
  const p = prefix()
  const a = connections(t)
  const other = new Redis(REDIS_URL)
  t.teardown(() => { other.disconnect() })
  const busA = new RedisBus(a.pub, a.sub, p)
  const id = await a.sub.call('CLIENT', 'ID') as number
  const heard: BusMessage[] = []
  await busA.subscribe((m) => { heard.push(m) })
  await other.call('CLIENT', 'KILL', 'ID', String(id))
  t.ok(await until(async () => Number(await other.call('PUBSUB', 'NUMSUB', `${p}bus`).then((r) => (r as [string, number])[1])) >= 1), 'subscribed again after the reconnect')
  await other.publish(`${p}bus`, JSON.stringify(note('x://after')))
  t.ok(await until(() => heard.length === 1), 'heard after the reconnect')
})
