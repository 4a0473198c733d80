import t from 'tap'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import { buildServer, PNG_BASE64 } from '../src/server.js'

async function start (t: { teardown: (fn: () => unknown) => void }): Promise<URL> {
  const app = await buildServer()
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return new URL(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`)
}

t.test('the contract, through the SDK v1 client', async (t) => {
  const url = await start(t)
  const client = new ClientV1({ name: 'v1', version: '1' }, { capabilities: { sampling: {}, elicitation: {} } })
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    model: 'test', role: 'assistant', content: { type: 'text', text: `echo ${(req.params.messages[0]?.content as { text: string }).text}` }
  }))
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { username: 'ada', email: 'ada@example.org' } }))
  const logs: string[] = []
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => { logs.push(String(n.params.data)) })
  await client.connect(new TransportV1(url))

  const tools = (await client.listTools()).tools
  t.equal(tools.length, 14)
  t.ok(tools.every((tool) => typeof tool.description === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(tool.name)))
  const schemaTool = tools.find((x) => x.name === 'json_schema_2020_12_tool')
  t.equal(schemaTool?.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  t.ok(schemaTool?.inputSchema.$defs)
  t.equal(schemaTool?.inputSchema.additionalProperties, false)

  t.same((await client.callTool({ name: 'test_simple_text', arguments: {} })).content, [{ type: 'text', text: 'This is a simple text response for testing.' }])
  t.same((await client.callTool({ name: 'test_image_content', arguments: {} })).content, [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }])
  const err = await client.callTool({ name: 'test_error_handling', arguments: {} })
  t.equal(err.isError, true)
  t.same(err.content, [{ type: 'text', text: 'This tool intentionally returns an error for testing' }])
  await t.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /-32602/, 'an unknown tool is a JSON-RPC error, not an isError result')

  const progress: number[] = []
  await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: (p) => { progress.push(p.progress) } })
  t.same(progress, [0, 50, 100])
  await client.callTool({ name: 'test_tool_with_logging', arguments: {} })
  t.same(logs, ['Tool execution started', 'Tool processing data', 'Tool execution completed'])

  t.same((await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hi' } })).content, [{ type: 'text', text: 'LLM response: echo hi' }])
  const elicited = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } })
  t.same(elicited.content, [{ type: 'text', text: 'User response: action=accept, content={"username":"ada","email":"ada@example.org"}' }])
  t.match((await client.callTool({ name: 'test_reconnection', arguments: {} })).content, [{ text: /Reconnection test completed/ }])

  const tpl = await client.readResource({ uri: 'test://template/123/data' })
  t.same(JSON.parse((tpl.contents[0] as { text: string }).text), { id: '123', templateTest: true, data: 'Data for ID: 123' })
  t.same(await client.subscribeResource({ uri: 'test://watched-resource' }), {})
  t.same(await client.unsubscribeResource({ uri: 'test://watched-resource' }), {})
  const prompt = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } })
  t.same(prompt.messages[0]?.content, { type: 'text', text: "Prompt with arguments: arg1='a', arg2='b'" })
  const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'par' } })
  t.same(completion.completion.values, ['paris', 'park', 'party'])
  await client.close()
})

t.test('the contract, through the SDK v2 client', async (t) => {
  const url = await start(t)
  const client = new ClientV2({ name: 'v2', version: '2' }, { capabilities: { elicitation: {} } })
  client.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }))
  await client.connect(new TransportV2(url))
  t.equal((await client.listPrompts()).prompts.length, 4)
  t.equal((await client.listResources()).resources.length, 3)
  const text = await client.readResource({ uri: 'test://static-text' })
  t.same(text.contents[0], { uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' })
  const declined = await client.callTool({ name: 'test_elicitation_sep1034_defaults', arguments: {} })
  t.same(declined.content, [{ type: 'text', text: 'Elicitation completed: action=decline, content={}' }])
  await client.close()
})
