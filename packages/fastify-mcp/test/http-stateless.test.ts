import t from 'tap'
import { buildApp, initBody } from './helpers/http.js'
import { post } from './helpers/inject.js'

// 2025 stateless mode.

t.test('stateless mode: every POST stands alone; GET and DELETE 405', async (t) => {
  const app = await buildApp({ stateless: true })
  t.teardown(() => app.close())
  const initRes = await post(app, initBody())
  t.equal(initRes.statusCode, 200)
  t.notOk(initRes.headers['mcp-session-id'])
  const call = await post(app, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } })
  t.equal(call.statusCode, 200)
  t.same(JSON.parse(call.body).result.content, [{ type: 'text', text: 'x' }])
  const progress = await post(app, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'progress', arguments: {}, _meta: { progressToken: 'p' } } })
  t.match(progress.headers['content-type'], /text\/event-stream/, 'progress streams the reply')
  const events = progress.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { params?: { progress: number }, result?: unknown })
  t.same(events.slice(0, 3).map((e) => e.params?.progress), [0, 50, 100])
  t.match(events[3], { id: 3, result: { content: [{ text: 'done' }] } })
  t.notOk(progress.body.includes('id: '), 'no SSE ids: a stateless stream is not resumable')
  const list = await post(app, { jsonrpc: '2.0', id: 4, method: 'tools/list' })
  t.ok(JSON.parse(list.body).result.tools.some((x: { name: string }) => x.name === 'echo'))
  const unknown = await post(app, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'nope' } })
  t.match(JSON.parse(unknown.body), { id: 5, error: { code: -32602 } })
  app.mcp.tool({ name: 'ask', description: 'Asks', handler: async (_a, ctx) => { await ctx.elicit({ message: 'x', requestedSchema: { type: 'object', properties: {} } }); return { content: [] } } })
  const ask = await post(app, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'ask', arguments: {} } })
  t.match(JSON.parse(ask.body).result, { isError: true, content: [{ text: /stateless/ }] }, 'no way back to the client: a tool error')
  const prompts = await post(app, { jsonrpc: '2.0', id: 7, method: 'resources/list' })
  t.match(JSON.parse(prompts.body), { id: 7, result: { resources: [{ uri: 'test://r' }] } }, 'other methods go through the SDK server')
  for (const method of ['GET', 'DELETE'] as const) {
    const r = await app.inject({ method, url: '/mcp', headers: { accept: 'text/event-stream' } })
    t.equal(r.statusCode, 405)
    t.equal(r.headers.allow, 'POST')
  }
})
