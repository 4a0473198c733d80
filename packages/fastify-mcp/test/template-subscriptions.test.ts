import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { buildApp, listen } from './helpers/http.js'
import { until } from './helpers/wait.js'
import { instance, prefix, redisSkip } from './helpers/redis.js'
import { modernRequest } from './helpers/modern.js'

const skip = await redisSkip()

/** `item://{id}` may be watched, `plain://{id}` may not. */
function declare (app: FastifyInstance): void {
  app.mcp.resourceTemplate({ uriTemplate: 'item://{id}', name: 'item', subscribable: true, handler: (uri, v) => ({ contents: [{ uri: uri.href, text: `item ${String(v.id)}` }] }) })
  app.mcp.resourceTemplate({ uriTemplate: 'plain://{id}', name: 'plain', handler: (uri) => ({ contents: [{ uri: uri.href, text: 'plain' }] }) })
}

/** A v1 client in a 2025 session that collects the resource updates it hears. */
async function watcher (url: string): Promise<{ client: ClientV1, heard: string[], next: (uri: string) => Promise<void> }> {
  const client = new ClientV1({ name: 'watcher', version: '1' })
  const heard: string[] = []
  const waiting: Array<{ uri: string, resolve: () => void }> = []
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    heard.push(n.params.uri)
    for (const w of waiting.filter((x) => x.uri === n.params.uri)) w.resolve()
  })
  await client.connect(new TransportV1(new URL(url)))
  const next = async (uri: string): Promise<void> => {
    if (heard.includes(uri)) return
    await new Promise<void>((resolve) => { waiting.push({ uri, resolve }) })
  }
  return { client, heard, next }
}

/** Opens a 2026-07-28 `subscriptions/listen` stream and reads its messages one by one. */
async function listenStream (url: string, id: number, resourceSubscriptions: string[]): Promise<{ next: () => Promise<Record<string, unknown> | null>, close: () => void }> {
  const r = modernRequest(id, 'subscriptions/listen', { notifications: { resourceSubscriptions } })
  const ac = new AbortController()
  const res = await fetch(url, { method: 'POST', headers: r.headers, body: JSON.stringify(r.body), signal: ac.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  return {
    next: async () => {
      for (;;) {
        while (!buffered.includes('\n\n')) {
          const { value, done } = await reader.read()
          if (done) return null
          buffered += decoder.decode(value)
        }
        const i = buffered.indexOf('\n\n')
        const block = buffered.slice(0, i)
        buffered = buffered.slice(i + 2)
        const data = block.split('\n').find((l) => l.startsWith('data: '))
        if (data !== undefined) return JSON.parse(data.slice(6)) as Record<string, unknown>
      }
    },
    close: () => { ac.abort() }
  }
}

t.test('a template declared subscribable: the capability, resources/subscribe to a concrete URI, its update; other templates refused', async (t) => {
  const app = await buildApp()
  declare(app)
  t.teardown(() => app.close())
  const url = await listen(app)
  const w = await watcher(url)
  t.teardown(() => w.client.close())
  t.equal(w.client.getServerCapabilities()?.resources?.subscribe, true)
  await w.client.subscribeResource({ uri: 'item://7' })
  await t.rejects(w.client.subscribeResource({ uri: 'plain://7' }), /does not support subscriptions/, 'a URI of a template not declared subscribable is refused')
  await t.rejects(w.client.subscribeResource({ uri: 'nothing://7' }), /Resource not found/)
  await app.mcp.resourceUpdated('item://8')
  await app.mcp.resourceUpdated('item://7')
  await w.next('item://7')
  t.same(w.heard, ['item://7'], 'only the subscribed URI of the template is heard')
  await w.client.unsubscribeResource({ uri: 'item://7' })
})

t.test('2026-07-28 subscriptions/listen honours concrete URIs of a subscribable template and delivers their updates', async (t) => {
  const app = await buildApp()
  declare(app)
  t.teardown(() => app.close())
  const url = await listen(app)
  const stream = await listenStream(url, 5, ['item://1', 'plain://1', 'nothing://1'])
  t.teardown(stream.close)
  t.match(await stream.next(), { method: 'notifications/subscriptions/acknowledged', params: { notifications: { resourceSubscriptions: ['item://1'] } } }, 'only the subscribable URI is honoured')
  await app.mcp.resourceUpdated('item://2')
  await app.mcp.resourceUpdated('item://1')
  t.match(await stream.next(), { method: 'notifications/resources/updated', params: { uri: 'item://1', _meta: { 'io.modelcontextprotocol/subscriptionId': 5 } } })
})

t.test('across Redis instances: a template URI subscribed on A hears the update announced on B, in both eras', { skip }, async (t) => {
  const p = prefix()
  const a = await instance(p)
  const b = await instance(p)
  t.teardown(async () => { await a.app.close(); await b.app.close() })
  declare(a.app)
  declare(b.app)
  const w = await watcher(a.url)
  t.teardown(() => w.client.close())
  await w.client.subscribeResource({ uri: 'item://42' })
  const stream = await listenStream(a.url, 9, ['item://42'])
  t.teardown(stream.close)
  t.match(await stream.next(), { method: 'notifications/subscriptions/acknowledged' })
  // The 2025 client opens its GET stream after initializing: announce once it is open on A.
  t.ok(await until(() => a.app.mcp.sessions.streamCount().get === 1), 'the 2025 client\'s GET stream is open on A')
  await b.app.mcp.resourceUpdated('item://42')
  await w.next('item://42')
  t.ok(w.heard.includes('item://42'), 'the 2025 session on A heard the update announced on B')
  t.match(await stream.next(), { method: 'notifications/resources/updated', params: { uri: 'item://42' } }, 'the 2026 listen stream on A heard it too')
})
