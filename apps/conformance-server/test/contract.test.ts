import t from 'tap'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
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
  t.equal(tools.length, 28)
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
  t.equal((await client.listPrompts()).prompts.length, 5)
  t.equal((await client.listResources()).resources.length, 3)
  const text = await client.readResource({ uri: 'test://static-text' })
  t.same(text.contents[0], { uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' })
  const declined = await client.callTool({ name: 'test_elicitation_sep1034_defaults', arguments: {} })
  t.same(declined.content, [{ type: 'text', text: 'Elicitation completed: action=decline, content={}' }])
  await client.close()
})

t.test('one handler, both eras: input-required tools answer 2025 sessions with real requests and 2026 calls with input rounds', async (t) => {
  const url = await start(t)
  const answers = {
    elicit: async (req: { params: { message: string } }) => ({
      action: 'accept' as const,
      content: ({ 'Favourite colour?': { color: 'blue' }, 'Confirm?': { ok: true }, 'What context should the prompt use?': { context: 'audit' } } as Record<string, Record<string, string | boolean>>)[req.params.message] ?? { name: 'Alice' }
    }),
    sample: async () => ({ model: 'test', role: 'assistant' as const, content: { type: 'text' as const, text: 'Paris' } }),
    roots: async () => ({ roots: [{ uri: 'file:///test/root', name: 'Test Root' }] })
  }
  const caps = { capabilities: { sampling: {}, elicitation: {}, roots: {} } }

  const v1 = new ClientV1({ name: 'v1', version: '1' }, caps)
  v1.setRequestHandler(ElicitRequestSchema, answers.elicit)
  v1.setRequestHandler(CreateMessageRequestSchema, answers.sample)
  v1.setRequestHandler(ListRootsRequestSchema, answers.roots)
  await v1.connect(new TransportV1(url))

  const v2 = new ClientV2({ name: 'v2', version: '2' }, { ...caps, versionNegotiation: { mode: { pin: '2026-07-28' } } })
  v2.setRequestHandler('elicitation/create', answers.elicit)
  v2.setRequestHandler('sampling/createMessage', answers.sample)
  v2.setRequestHandler('roots/list', answers.roots)
  await v2.connect(new TransportV2(url))
  t.equal(v2.getProtocolEra(), 'modern')
  t.equal(v1.getServerVersion()?.name, 'mcp-conformance-test-server')

  const expected: Record<string, string> = {
    test_input_required_result_elicitation: 'Hello, Alice!',
    test_input_required_result_sampling: 'LLM said: Paris',
    test_input_required_result_list_roots: 'Found 1 root(s)',
    test_input_required_result_multiple_inputs: 'Paris Alice (1 root(s))',
    test_input_required_result_multi_round: 'Alice likes blue',
    test_input_required_result_request_state: 'state-ok confirmed=true'
  }
  for (const [name, text] of Object.entries(expected)) {
    t.same((await v1.callTool({ name, arguments: {} })).content, [{ type: 'text', text }], `${name} in a 2025 session`)
    t.same((await v2.callTool({ name, arguments: {} })).content, [{ type: 'text', text }], `${name} under 2026-07-28`)
  }
  for (const client of [v1, v2]) {
    const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' })
    t.same(prompt.messages[0]?.content, { type: 'text', text: 'Context: audit' }, 'a prompt asks for input too')
  }
  await v1.close()
  await v2.close()
})
