import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import fastifyMcp, { McpToolError, type McpContext } from '@mcp-fastify/fastify-mcp'

/** A 1×1 PNG pixel and a minimal WAV file, base64. */
export const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='
export const WAV_BASE64 = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA='

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const text = (t: string): { content: Array<{ type: 'text', text: string }> } => ({ content: [{ type: 'text', text: t }] })

async function elicitText (ctx: McpContext, prefix: string, params: Parameters<McpContext['elicit']>[0]): Promise<{ content: Array<{ type: 'text', text: string }> }> {
  const result = await ctx.elicit(params)
  return text(`${prefix}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)
}

const CITIES = ['paris', 'park', 'party', 'pasta', 'prague', 'porto']

/** The conformance suite's "everything server" contract, served by the plugin. */
export async function buildServer (options: { logger?: boolean } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger === true ? { level: 'info' } : false })
  await app.register(fastifyMcp, {
    serverInfo: { name: 'mcp-conformance-test-server', version: '1.0.0' },
    retryMs: 500
  })
  const mcp = app.mcp

  mcp.tool({ name: 'test_simple_text', description: 'Tests simple text content response', handler: () => text('This is a simple text response for testing.') })
  mcp.tool({ name: 'test_image_content', description: 'Tests image content response', handler: () => ({ content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }] }) })
  mcp.tool({ name: 'test_audio_content', description: 'Tests audio content response', handler: () => ({ content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }] }) })
  mcp.tool({
    name: 'test_embedded_resource',
    description: 'Tests embedded resource content response',
    handler: () => ({ content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] })
  })
  mcp.tool({
    name: 'test_multiple_content_types',
    description: 'Tests response with multiple content types (text, image, resource)',
    handler: () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } }
      ]
    })
  })
  mcp.tool({
    name: 'test_tool_with_logging',
    description: 'Tests tool that emits log messages during execution',
    handler: async (_args, ctx) => {
      await ctx.log('info', 'Tool execution started')
      await sleep(50)
      await ctx.log('info', 'Tool processing data')
      await sleep(50)
      await ctx.log('info', 'Tool execution completed')
      return text('Tool with logging executed successfully')
    }
  })
  mcp.tool({
    name: 'test_tool_with_progress',
    description: 'Tests tool that reports progress notifications',
    handler: async (_args, ctx) => {
      for (const step of [0, 50, 100]) {
        await ctx.progress(step, 100, `Completed step ${step} of 100`)
        if (step < 100) await sleep(50)
      }
      return text(String(ctx.meta?.progressToken ?? 0))
    }
  })
  mcp.tool({
    name: 'test_error_handling',
    description: 'Tests error response handling',
    handler: () => { throw new McpToolError('This tool intentionally returns an error for testing') }
  })
  mcp.tool({
    name: 'test_reconnection',
    description: 'Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes the stream mid-call and sends the result after the client reconnects.',
    handler: async (_args, ctx) => {
      ctx.closeStream()
      await sleep(100)
      return text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.')
    }
  })
  mcp.tool({
    name: 'test_sampling',
    description: 'Tests server-initiated sampling (LLM completion request)',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
    handler: async ({ prompt }, ctx) => {
      const result = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 })
      const content = result.content as { type: string, text?: string }
      return text(`LLM response: ${content.text ?? 'No response'}`)
    }
  })
  mcp.tool({
    name: 'test_elicitation',
    description: 'Tests server-initiated elicitation (user input request)',
    input: z.object({ message: z.string().describe('The message to show the user') }),
    handler: async ({ message }, ctx) => await elicitText(ctx, 'User response', {
      mode: 'form',
      message,
      requestedSchema: {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" }
        },
        required: ['username', 'email']
      }
    })
  })
  mcp.tool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Tests elicitation with default values per SEP-1034',
    handler: async (_args, ctx) => await elicitText(ctx, 'Elicitation completed', {
      mode: 'form',
      message: 'Please review and update the form fields with defaults',
      requestedSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
          verified: { type: 'boolean', description: 'Verification status', default: true }
        },
        required: []
      }
    })
  })
  mcp.tool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Tests elicitation with enum schema improvements per SEP-1330',
    handler: async (_args, ctx) => await elicitText(ctx, 'Elicitation completed', {
      mode: 'form',
      message: 'Please select options from the enum fields',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            description: 'Select one option with titles',
            oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }]
          },
          legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
          untitledMulti: { type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3, items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
          titledMulti: {
            type: 'array',
            description: 'Select multiple options with titles',
            minItems: 1,
            maxItems: 3,
            items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] }
          }
        },
        required: []
      }
    } as Parameters<McpContext['elicit']>[0])
  })
  mcp.tool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613, SEP-2106)',
    input: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: {
        name: { type: 'string' },
        address: { $ref: '#/$defs/address' },
        contactMethod: { type: 'string', enum: ['phone', 'email'] },
        phone: { type: 'string' },
        email: { type: 'string' }
      },
      allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
      if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
      then: { required: ['phone'] },
      else: { required: ['email'] },
      additionalProperties: false
    },
    handler: (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`)
  })

  // ---- the 2026-07-28 contract -------------------------------------------------------------------
  mcp.tool({
    name: 'test_missing_capability',
    description: 'Needs the sampling capability: without it the call fails with MissingRequiredClientCapability (-32021)',
    handler: async (_args, ctx) => {
      const result = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }], maxTokens: 10 })
      return text(`sampled: ${(result.content as { text?: string }).text ?? ''}`)
    }
  })
  mcp.tool({
    name: 'test_streaming_elicitation',
    description: 'Streams a progress notification before its result; never sends a request to the client',
    handler: async (_args, ctx) => {
      await ctx.progress(1, 1, 'working')
      return text('Streaming completed without server-to-client requests')
    }
  })
  mcp.tool({
    name: 'test_logging_tool',
    description: 'Emits log messages, which a 2026-07-28 request receives only when it names a log level',
    handler: async (_args, ctx) => {
      await ctx.log('info', 'Logging tool started')
      await ctx.log('debug', 'Logging tool details')
      return text('Logging tool completed')
    }
  })
  mcp.tool({
    name: 'test_trigger_tool_change',
    description: 'Announces a tools list change to every listener',
    handler: async () => {
      await mcp.listChanged('tools')
      return text('tools/list_changed sent')
    }
  })
  mcp.tool({
    name: 'test_trigger_prompt_change',
    description: 'Announces a prompts list change to every listener',
    handler: async () => {
      await mcp.listChanged('prompts')
      return text('prompts/list_changed sent')
    }
  })
  mcp.tool({
    name: 'test_custom_header',
    description: 'Echoes a region that 2026-07-28 clients mirror into the Mcp-Param-Region header (x-mcp-header)',
    input: { type: 'object', properties: { region: { type: 'string', description: 'A region name', 'x-mcp-header': 'Region' } }, required: ['region'] },
    handler: (args) => text(`region=${String(args.region)}`)
  })

  type Form = Extract<Parameters<McpContext['elicit']>[0], { mode?: 'form' }>['requestedSchema']
  const nameSchema: Form = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }
  const confirmSchema: Form = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }
  const capital = { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: 'What is the capital of France?' } }], maxTokens: 100 }
  const sampled = (r: { content: unknown }): string => (r.content as { text?: string }).text ?? ''
  mcp.tool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks the user for a name (elicitation), then greets them',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' })
      return text(r.action === 'accept' ? `Hello, ${String(r.content?.name)}!` : `No name given (${r.action})`)
    }
  })
  mcp.tool({
    name: 'test_input_required_result_sampling',
    description: 'Asks the client to sample an LLM, then returns its answer',
    handler: async (_args, ctx) => text(`LLM said: ${sampled(await ctx.sample(capital, { key: 'sample_request' }))}`)
  })
  mcp.tool({
    name: 'test_input_required_result_list_roots',
    description: 'Asks the client for its roots, then counts them',
    handler: async (_args, ctx) => text(`Found ${(await ctx.roots({ key: 'roots_request' })).roots.length} root(s)`)
  })
  mcp.tool({
    name: 'test_input_required_result_request_state',
    description: 'Asks for a confirmation; the answer comes back with the sealed request state',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'Confirm?', requestedSchema: confirmSchema }, { key: 'confirm' })
      return text(`state-ok confirmed=${String(r.content?.ok)}`)
    }
  })
  mcp.tool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks for a name, a sampled greeting and the roots in one round',
    handler: async (_args, ctx) => {
      const [name, greeting, roots] = await Promise.all([
        ctx.elicit({ mode: 'form', message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' }),
        ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Write a greeting' } }], maxTokens: 50 }, { key: 'greeting' }),
        ctx.roots({ key: 'client_roots' })
      ])
      return text(`${sampled(greeting)} ${String(name.content?.name)} (${roots.roots.length} root(s))`)
    }
  })
  mcp.tool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks for a name, then in a second round for a favourite colour',
    handler: async (_args, ctx) => {
      const name = await ctx.elicit({ mode: 'form', message: 'What is your name?', requestedSchema: nameSchema }, { key: 'step1' })
      const color = await ctx.elicit({ mode: 'form', message: 'Favourite colour?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } }, { key: 'step2' })
      return text(`${String(name.content?.name)} likes ${String(color.content?.color)}`)
    }
  })
  mcp.tool({
    name: 'test_input_required_result_tampered_state',
    description: 'Asks for a confirmation; a request state altered by the client is refused',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'Confirm?', requestedSchema: confirmSchema }, { key: 'confirm' })
      return text(`confirmed=${String(r.content?.ok)}`)
    }
  })
  mcp.tool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks only for the kinds of input the client declared it can give',
    handler: async (_args, ctx) => {
      const caps = ctx.client.capabilities
      const asks: Array<Promise<unknown>> = []
      if (caps.elicitation !== undefined) asks.push(ctx.elicit({ mode: 'form', message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' }))
      if (caps.sampling !== undefined) asks.push(ctx.sample(capital, { key: 'sample_input' }))
      if (caps.roots !== undefined) asks.push(ctx.roots({ key: 'roots_input' }))
      const answers = await Promise.all(asks)
      return text(`received ${answers.length} input(s)`)
    }
  })

  mcp.resource({
    uri: 'test://static-text',
    name: 'static-text',
    title: 'Static Text Resource',
    description: 'A static text resource for testing',
    mimeType: 'text/plain',
    handler: () => ({ contents: [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] })
  })
  mcp.resource({
    uri: 'test://static-binary',
    name: 'static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (image) for testing',
    mimeType: 'image/png',
    handler: () => ({ contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: PNG_BASE64 }] })
  })
  mcp.resourceTemplate({
    uriTemplate: 'test://template/{id}/data',
    name: 'template',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution',
    mimeType: 'application/json',
    complete: { id: (value) => ['1', '2', '3', '123'].filter((v) => v.startsWith(value)) },
    handler: (uri, variables) => {
      const id = String(variables.id)
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] }
    }
  })
  mcp.resource({
    uri: 'test://watched-resource',
    name: 'watched-resource',
    title: 'Watched Resource',
    description: 'A resource clients can subscribe to',
    mimeType: 'text/plain',
    subscribable: true,
    handler: () => ({ contents: [{ uri: 'test://watched-resource', mimeType: 'text/plain', text: 'Watched resource content' }] })
  })

  mcp.prompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A simple prompt without arguments',
    handler: () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }] })
  })
  mcp.prompt({
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    arguments: [
      { name: 'arg1', description: 'First test argument', required: true, complete: (value) => CITIES.filter((c) => c.startsWith(value.toLowerCase())) },
      { name: 'arg2', description: 'Second test argument', required: true }
    ],
    handler: ({ arg1, arg2 }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }] })
  })
  mcp.prompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
    handler: ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri as string, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } }
      ]
    })
  })
  mcp.prompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes image content',
    handler: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG_BASE64, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } }
      ]
    })
  })
  mcp.prompt({
    name: 'test_input_required_result_prompt',
    title: 'Prompt Asking For Context',
    description: 'A prompt that asks the user for context (elicitation) before it is built',
    handler: async (_args, ctx) => {
      const r = await ctx.elicit({ mode: 'form', message: 'What context should the prompt use?', requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] } }, { key: 'user_context' })
      return { messages: [{ role: 'user', content: { type: 'text', text: `Context: ${String(r.content?.context)}` } }] }
    }
  })
  return app
}
