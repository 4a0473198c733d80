import t from 'tap'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CallToolResultSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { z } from 'zod'
import { buildApp, listen, openSession } from './helpers/http.js'
import { until } from './helpers/wait.js'

async function appWithAsk (): Promise<Awaited<ReturnType<typeof buildApp>>> {
  const app = await buildApp()
  app.mcp.tool({
    name: 'ask',
    description: 'Asks the user for a name',
    output: z.object({ action: z.string(), name: z.string().optional() }),
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } })
      const out: { action: string, name?: string } = { action: r.action }
      if (typeof r.content?.name === 'string') out.name = r.content.name
      return { structuredContent: out }
    }
  })
  return app
}

t.test('SDK v1 client: a whole session', async (t) => {
  const app = await appWithAsk()
  t.teardown(() => app.close())
  const url = new URL(await listen(app))
  const client = new ClientV1({ name: 'v1', version: '1.0.0' }, { capabilities: { elicitation: {} } })
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada' } }))
  const updates: string[] = []
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => { updates.push(n.params.uri) })
  const transport = new TransportV1(url)
  await client.connect(transport)
  t.ok(transport.sessionId, 'session id received')
  t.equal(client.getServerVersion()?.name, 'test-server')

  const tools = await client.listTools()
  t.same(tools.tools.map((x) => x.name).sort(), ['ask', 'echo', 'poll', 'progress', 'slow'])

  const progress: number[] = []
  const done = await client.callTool({ name: 'progress', arguments: {} }, undefined, { onprogress: (p) => { progress.push(p.progress) } })
  t.same(progress, [0, 50, 100])
  t.same(done.content, [{ type: 'text', text: 'done' }])

  const asked = await client.callTool({ name: 'ask', arguments: {} })
  t.same(asked.structuredContent, { action: 'accept', name: 'Ada' })

  const ac = new AbortController()
  const slow = client.callTool({ name: 'slow', arguments: { ms: 5000 } }, undefined, { signal: ac.signal })
  t.ok(await until(() => app.calls.slowStarted > 0), 'the handler runs')
  ac.abort()
  await t.rejects(slow)
  await until(() => app.calls.slowAborted > 0)
  t.equal(app.calls.slowAborted, 1, 'cancellation reached the handler')

  await client.subscribeResource({ uri: 'test://r' })
  // The client opens its GET stream on its own schedule: notify until one arrives.
  t.ok(await until(async () => { await app.mcp.resourceUpdated('test://r'); return updates.length > 0 }, 50, 40), 'notification over the GET stream')
  t.ok(updates.every((u) => u === 'test://r'))

  let token: string | undefined
  const polled = await client.request(
    { method: 'tools/call', params: { name: 'poll', arguments: {} } },
    CallToolResultSchema,
    { onresumptiontoken: (tk) => { token = tk } }
  )
  t.same(polled.content, [{ type: 'text', text: 'polled' }], 'the client resumed after the server closed the stream')
  t.ok(token, 'an event id was handed to the client')

  await transport.terminateSession()
  t.equal(await app.mcp.sessions.count(), 0, 'DELETE ended the session')
  await client.close()
})

t.test('SDK v2 client: a whole session', async (t) => {
  const app = await appWithAsk()
  t.teardown(() => app.close())
  const url = new URL(await listen(app))
  const client = new ClientV2({ name: 'v2', version: '2.0.0' }, { capabilities: { elicitation: {} } })
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Grace' } }))
  const transport = new TransportV2(url)
  await client.connect(transport)
  t.ok(transport.sessionId)
  const list = await client.listTools()
  t.ok(list.tools.some((x) => x.name === 'echo'))
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'hi' } })
  t.same(echo.content, [{ type: 'text', text: 'hi' }])
  const progress: number[] = []
  await client.callTool({ name: 'progress', arguments: {} }, { onprogress: (p) => { progress.push(p.progress) } })
  t.same(progress, [0, 50, 100])
  const asked = await client.callTool({ name: 'ask', arguments: {} })
  t.same(asked.structuredContent, { action: 'accept', name: 'Grace' })
  const polled = await client.callTool({ name: 'poll', arguments: {} })
  t.same(polled.content, [{ type: 'text', text: 'polled' }])
  await transport.terminateSession()
  t.equal(await app.mcp.sessions.count(), 0)
  await client.close()
})

t.test('a client without the elicitation capability gets an error, and no request is sent', async (t) => {
  const app = await appWithAsk()
  t.teardown(() => app.close())
  const base = await listen(app)
  const { post } = await openSession(base, '2025-11-25', {})
  const res = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'ask', arguments: {} } })
  const text = await res.text()
  t.notMatch(text, /elicitation\/create/, 'no elicitation request on the wire')
  const last = JSON.parse(res.headers.get('content-type')?.includes('json') === true ? text : text.split('data: ').pop() as string) as { result: { isError: boolean } }
  t.equal(last.result.isError, true)
})
