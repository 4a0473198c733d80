import t from 'tap'
import { z } from 'zod'
import { McpRegistry, McpToolError } from '../src/index.js'
import type { RequestIO } from '../src/registry/context.js'
import type { McpCaller, McpContext } from '../src/registry/types.js'

// The registry's dispatch called directly, as both eras and stdio call it: paging, scopes, lookups
// and every shape of a handler's answer.

const caller = (scopes: string[]): McpCaller => ({ subject: 'ada', clientId: null, issuer: null, scopes, tokenId: null, expiresAt: null, claims: {} })

function ctx (registry: McpRegistry, who: McpCaller | null = null, protocolVersion = '2025-11-25'): McpContext {
  const io: RequestIO = {
    id: 1,
    method: 'tools/call',
    meta: undefined,
    signal: new AbortController().signal,
    notify: async () => {},
    log: async () => {},
    elicit: async () => { throw new Error('no client') },
    sample: async () => { throw new Error('no client') },
    roots: async () => { throw new Error('no client') }
  }
  const session = { id: 's', protocolVersion, clientInfo: null, clientCapabilities: {} }
  return registry.context(io, { session, caller: who, request: null, closeStream: () => {} })
}

t.test('lists page with opaque cursors; a bad or out-of-range cursor is -32602', async (t) => {
  const registry = new McpRegistry()
  for (let i = 0; i < 5; i++) {
    registry.tool({ name: `t${i}`, description: 'x', handler: () => ({ content: [] }) })
    registry.prompt({ name: `p${i}`, description: 'x', handler: () => ({ messages: [] }) })
    registry.resource({ uri: `r://${i}`, name: `r${i}`, handler: () => ({ contents: [] }) })
    registry.resourceTemplate({ uriTemplate: `t${i}://{id}`, name: `tt${i}`, handler: () => ({ contents: [] }) })
  }
  const binding = { session: null, caller: null, request: null, closeStream: () => {} }
  const first = registry.listTools(binding, undefined, { pageSize: 2 })
  t.same(first.tools.map((x) => x.name), ['t0', 't1'])
  const second = registry.listTools(binding, first.nextCursor, { pageSize: 2 })
  t.same(second.tools.map((x) => x.name), ['t2', 't3'])
  const last = registry.listTools(binding, second.nextCursor, { pageSize: 2 })
  t.same(last.tools.map((x) => x.name), ['t4'])
  t.equal(last.nextCursor, undefined, 'no cursor after the last page')
  t.same(registry.listPrompts(undefined, 3).prompts.length, 3)
  t.type(registry.listPrompts(undefined, 3).nextCursor, 'string')
  t.type((await registry.listResources(ctx(registry), undefined, 3)).nextCursor, 'string')
  t.type(registry.listResourceTemplates(undefined, 3).nextCursor, 'string')
  t.throws(() => registry.listTools(binding, 'bm90IGEgY3Vyc29y'), { code: -32602, message: /Invalid cursor/ })
  t.throws(() => registry.listTools(binding, Buffer.from('o:99').toString('base64url')), { code: -32602, message: /Invalid cursor/ }, 'an offset past the end')
})

t.test('list entries carry the optional fields a definition gives', async (t) => {
  const registry = new McpRegistry()
  const icons = [{ src: 'https://example.com/i.png' }]
  registry.resource({ uri: 'r://a', name: 'a', title: 'A', description: 'the a', mimeType: 'text/plain', icons, _meta: { k: 1 }, handler: () => ({ contents: [] }) })
  registry.resourceTemplate({ uriTemplate: 'x://{id}', name: 'x', title: 'X', description: 'an x', mimeType: 'text/plain', icons, list: () => [{ uri: 'x://1', name: 'one' }], handler: () => ({ contents: [] }) })
  registry.prompt({ name: 'p', title: 'P', description: 'a p', icons, scopes: ['s'], _meta: { k: 2 }, arguments: [{ name: 'a', required: true, complete: () => ['v'] }], handler: () => ({ messages: [] }) })
  t.same((await registry.listResources(ctx(registry), undefined)).resources, [
    { uri: 'r://a', name: 'a', title: 'A', description: 'the a', mimeType: 'text/plain', icons, _meta: { k: 1 } },
    { uri: 'x://1', name: 'one' }
  ])
  t.same(registry.listResourceTemplates(undefined).resourceTemplates, [{ uriTemplate: 'x://{id}', name: 'x', title: 'X', description: 'an x', mimeType: 'text/plain', icons }])
  t.same(registry.listPrompts(undefined).prompts, [{ name: 'p', description: 'a p', title: 'P', icons, arguments: [{ name: 'a', required: true }], _meta: { k: 2, requiredScopes: ['s'] } }])
})

t.test('scopes are enforced at dispatch for tools, resources, templates, prompts and template completion', async (t) => {
  const registry = new McpRegistry()
  registry.tool({ name: 'secret', description: 'x', scopes: ['admin'], handler: () => ({ content: [{ type: 'text', text: 'ok' }] }) })
  registry.resource({ uri: 'r://s', name: 's', scopes: ['admin'], handler: () => ({ contents: [{ uri: 'r://s', text: 'ok' }] }) })
  registry.resourceTemplate({ uriTemplate: 'x://{id}', name: 'x', scopes: ['admin'], complete: { id: () => ['1'] }, handler: (_u, vars) => ({ contents: [{ uri: `x://${String(vars.id)}`, text: 'ok' }] }) })
  registry.prompt({ name: 'p', description: 'x', scopes: ['admin'], handler: () => ({ messages: [] }) })
  const weak = ctx(registry, caller(['read']))
  await t.rejects(registry.callTool('secret', {}, weak), { code: -32003, message: /Insufficient scope for tool "secret": requires admin/ })
  await t.rejects(registry.readResource('r://s', weak), { code: -32003 })
  await t.rejects(registry.readResource('x://7', weak), { code: -32003 })
  await t.rejects(registry.getPrompt('p', {}, weak), { code: -32003 })
  await t.rejects(registry.complete({ ref: { type: 'ref/resource', uri: 'x://{id}' }, argument: { name: 'id', value: '' } }, caller(['read'])), { code: -32003 })
  const strong = ctx(registry, caller(['admin']))
  t.same((await registry.callTool('secret', {}, strong)).content, [{ type: 'text', text: 'ok' }])
  t.same((await registry.readResource('x://7', strong)).contents, [{ uri: 'x://7', text: 'ok' }])
  t.same((await registry.callTool('secret', {}, weak, false)).content, [{ type: 'text', text: 'ok' }], 'enforceScopes false: the transport decided already')
  t.ok(registry.permits(caller(['admin']), 'resources/read', { uri: 'x://1' }))
  t.notOk(registry.permits(caller([]), 'prompts/get', { name: 'p' }))
  t.equal(registry.requiredScopes('tools/call', null), null, 'params that are no object need nothing here')
  const binding = { session: null, caller: caller(['read']), request: null, closeStream: () => {} }
  t.same(registry.listTools(binding, undefined, { toolsList: 'allowed' }).tools, [], 'toolsList "allowed" hides what the caller cannot call')
})

t.test('lookups: unknown names and URIs, bad URIs, missing prompt arguments, unknown completion refs', async (t) => {
  const registry = new McpRegistry()
  registry.prompt({ name: 'p', description: 'x', arguments: [{ name: 'who', required: true }], handler: (a) => ({ messages: [{ role: 'user', content: { type: 'text', text: String(a.who) } }] }) })
  registry.resourceTemplate({ uriTemplate: 'x://{id}', name: 'x', handler: () => ({ contents: [] }) })
  const c = ctx(registry)
  await t.rejects(registry.callTool('nope', {}, c), { code: -32602, message: 'Unknown tool: nope' })
  await t.rejects(registry.readResource('not a uri', c), { code: -32602, message: /Invalid resource URI/, data: { uri: 'not a uri' } })
  await t.rejects(registry.readResource('y://1', c), { code: -32602, message: /Resource not found/, data: { uri: 'y://1' } })
  await t.rejects(registry.getPrompt('nope', {}, c), { code: -32602, message: 'Unknown prompt: nope' })
  await t.rejects(registry.getPrompt('p', undefined, c), { code: -32602, message: /Missing required arguments for prompt p: who/ })
  await t.rejects(registry.complete({ ref: { type: 'ref/prompt', name: 'nope' }, argument: { name: 'a', value: '' } }), { code: -32602 })
  await t.rejects(registry.complete({ ref: { type: 'ref/resource', uri: 'z://{id}' }, argument: { name: 'a', value: '' } }), { code: -32602 })
  t.same(await registry.complete({ ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'who', value: '' } }), { completion: { values: [], total: 0, hasMore: false } }, 'an argument without completion has no values')
  t.ok(registry.hasResource('x://1'))
  t.notOk(registry.subscribable('x://1'))
  t.notOk(registry.subscribable('nothing://'))
})

t.test('a handler\'s answer: thrown errors, structured output, output validation, older sessions', async (t) => {
  const registry = new McpRegistry()
  registry.tool({ name: 'boom', description: 'x', handler: () => { throw new Error('disk on fire') } })
  registry.tool({ name: 'polite', description: 'x', handler: () => { throw new McpToolError('no such customer') } })
  registry.tool({ name: 'odd', description: 'x', handler: () => { throw 'a string' as unknown as Error } })
  registry.tool({ name: 'typed', description: 'x', output: z.object({ n: z.number() }), handler: () => ({ structuredContent: { n: 1 } }) })
  registry.tool({ name: 'liar', description: 'x', output: z.object({ n: z.number() }), handler: () => ({ structuredContent: { n: 'one' } }) })
  const c = ctx(registry)
  t.same(await registry.callTool('boom', {}, c), { content: [{ type: 'text', text: 'Tool boom failed: disk on fire' }], isError: true })
  t.same(await registry.callTool('polite', {}, c), { content: [{ type: 'text', text: 'no such customer' }], isError: true })
  t.same(await registry.callTool('odd', {}, c), { content: [{ type: 'text', text: 'Tool odd failed: a string' }], isError: true })
  t.same(await registry.callTool('typed', undefined, c), { structuredContent: { n: 1 }, content: [{ type: 'text', text: '{"n":1}' }] }, 'structured content also as text')
  await t.rejects(registry.callTool('liar', {}, c), { code: -32603, message: /does not match its output schema/ })
  t.same(await registry.callTool('typed', {}, ctx(registry, null, '2025-03-26')), { content: [{ type: 'text', text: '{"n":1}' }] }, 'no structuredContent before 2025-06-18')
})
