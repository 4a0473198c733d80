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
    description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)',
    input: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false
    },
    handler: (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`)
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
  return app
}
