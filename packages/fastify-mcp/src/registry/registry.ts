import { EventEmitter } from 'node:events'
import {
  fromJsonSchema,
  ProtocolError,
  Server,
  UriTemplate,
  type CallToolResult,
  type CompleteRequestParams,
  type CompleteResult,
  type GetPromptResult,
  type Implementation,
  type JsonSchemaType,
  type Prompt,
  type ReadResourceResult,
  type RequestId,
  type RequestOptions,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type ServerCapabilities,
  type ServerContext,
  type StandardSchemaV1,
  type Tool
} from '@modelcontextprotocol/server'
import { z } from 'zod'
import { FST_MCP_DUPLICATE, FST_MCP_INVALID_DEFINITION, McpToolError, RPC } from '../errors.js'
import { InputRequiredSignal } from './input.js'
import { scopeOf, telemetryEnabled, traceOperation } from '../telemetry/mcp.js'
import type {
  McpCaller,
  InputOptions,
  McpClient,
  McpContext,
  McpSessionInfo,
  PromptDefinition,
  ResourceDefinition,
  ResourceTemplateDefinition,
  SchemaLike,
  ToolDefinition,
  ToolReturn
} from './types.js'
import type { FastifyRequest } from 'fastify'

/** What the serving transport knows about one inbound request, handed to handlers through their context. */
export interface RequestBinding {
  session: McpSessionInfo | null
  caller: McpCaller | null
  request: FastifyRequest | null
  closeStream: () => void
  /** The client, when it is not the session's (2026-07-28 requests name it themselves). */
  client?: McpClient
  subscribe?: (uri: string) => Promise<void>
  unsubscribe?: (uri: string) => Promise<void>
}

/** How a handler talks back on the request it serves (through the SDK, or through the plugin's own dispatch). */
export interface RequestIO {
  id: RequestId
  method: string
  meta: Record<string, unknown> | undefined
  signal: AbortSignal
  notify: (notification: { method: string, params?: Record<string, unknown> }) => Promise<void>
  log: McpContext['log']
  elicit: McpContext['elicit']
  sample: McpContext['sample']
  roots: McpContext['roots']
}

/** Maps the SDK's handler context to the binding of the request it serves. */
export type BindingResolver = (ctx: ServerContext) => RequestBinding

/** Options of {@link McpRegistry.createServer}. */
export interface CreateServerOptions {
  serverInfo: Implementation
  instructions?: string
  resolve: BindingResolver
  /** When true, scopes declared on definitions are enforced against `caller.scopes` at dispatch. */
  enforceScopes?: boolean
  /** `all` lists every tool with its required scopes in `_meta`; `allowed` lists only those the caller may call. */
  toolsList?: 'all' | 'allowed'
  /** Page size of list results (a cursor beyond it pages). */
  pageSize?: number
}

/** A tool argument mirrored into an `Mcp-Param-*` header (2026-07-28 `x-mcp-header`). */
export interface HeaderParam {
  /** Where the value sits in `arguments` (property names from the root). */
  path: string[]
  /** The header name, lower case (`mcp-param-region`). */
  header: string
  type: 'string' | 'integer' | 'boolean'
}

interface CompiledTool {
  def: ToolDefinition
  tool: Tool
  headers: HeaderParam[]
  validateInput: ((value: unknown) => Promise<{ ok: true, value: unknown } | { ok: false, message: string }>) | null
  validateOutput: ((value: unknown) => Promise<{ ok: true, value: unknown } | { ok: false, message: string }>) | null
}

interface CompiledTemplate { def: ResourceTemplateDefinition, template: UriTemplate }

const REQUIRED_SCOPES_META = 'requiredScopes'

function isStandardSchema (s: SchemaLike): s is StandardSchemaV1 {
  return typeof (s as Record<string, unknown>)['~standard'] === 'object'
}

function toJsonSchema (s: SchemaLike): Record<string, unknown> {
  if (!isStandardSchema(s)) return s
  const json = z.toJSONSchema(s as z.ZodType, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
  delete json.$schema
  return json
}

function compileValidator (s: SchemaLike): CompiledTool['validateInput'] {
  const standard: StandardSchemaV1 = isStandardSchema(s) ? s : fromJsonSchema(s as JsonSchemaType)
  return async (value) => {
    const result = await standard['~standard'].validate(value)
    if (result.issues === undefined) return { ok: true, value: result.value }
    const message = result.issues.map((issue) => {
      const path = (issue.path ?? []).map((p) => typeof p === 'object' ? String(p.key) : String(p)).join('.')
      return path === '' ? issue.message : `${path}: ${issue.message}`
    }).join('; ')
    return { ok: false, message }
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The `x-mcp-header` annotations of a tool's input schema (2026-07-28): each on a string, integer or
 * boolean property reached from the root through `properties` only, a valid header token, unique.
 * Anything else makes the tool invalid, so it is refused at registration.
 */
function headerParams (tool: string, schema: Record<string, unknown>): HeaderParam[] {
  const found: HeaderParam[] = []
  const walk = (node: unknown, path: string[] | null, where: string): void => {
    if (typeof node !== 'object' || node === null) return
    if (Array.isArray(node)) {
      node.forEach((n, i) => { walk(n, null, `${where}/${i}`) })
      return
    }
    const n = node as Record<string, unknown>
    if ('x-mcp-header' in n) {
      const name = n['x-mcp-header']
      const type = n.type
      const fail = (why: string): never => { throw new FST_MCP_INVALID_DEFINITION(`tool "${tool}": x-mcp-header at ${where === '' ? '/' : where} ${why}`) }
      if (path === null || path.length === 0) fail('must sit on a property reached through "properties" only')
      if (typeof name !== 'string' || !TOKEN.test(name)) fail('must be a non-empty header token')
      if (type !== 'string' && type !== 'integer' && type !== 'boolean') fail('needs a string, integer or boolean property')
      const header = `mcp-param-${(name as string).toLowerCase()}`
      if (found.some((h) => h.header === header)) fail(`repeats the header name ${name as string}`)
      found.push({ path: path as string[], header, type: type as HeaderParam['type'] })
    }
    for (const [k, v] of Object.entries(n)) {
      if (k === 'properties' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        for (const [prop, sub] of Object.entries(v)) walk(sub, path === null ? null : [...path, prop], `${where}/properties/${prop}`)
      } else if (k !== 'x-mcp-header') {
        walk(v, null, `${where}/${k}`)
      }
    }
  }
  walk(schema, [], '')
  return found
}

function hasScopes (caller: McpCaller | null, scopes: string[] | undefined): boolean {
  if (scopes === undefined || scopes.length === 0 || caller === null) return true
  return scopes.every((s) => caller.scopes.includes(s))
}

function encodeCursor (offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url')
}

function decodeCursor (cursor: string | undefined): number {
  if (cursor === undefined) return 0
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (m === null) throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid cursor')
  return Number(m[1])
}

function page<T> (items: T[], cursor: string | undefined, size: number): { items: T[], nextCursor?: string } {
  const offset = decodeCursor(cursor)
  if (offset > items.length) throw new ProtocolError(RPC.INVALID_PARAMS, 'Invalid cursor')
  const slice = items.slice(offset, offset + size)
  return offset + size < items.length ? { items: slice, nextCursor: encodeCursor(offset + size) } : { items: slice }
}

function versionAtLeast (session: McpSessionInfo | null, version: string): boolean {
  return session === null || session.protocolVersion >= version
}

/**
 * Tools, resources and prompts declared once as data plus a handler, independent of any transport.
 * `createServer()` builds an SDK `Server` that serves them; the plugin does so per session, and the
 * same registry can be served over stdio.
 *
 * @example
 * const registry = new McpRegistry()
 * registry.tool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), handler: ({ text }) => ({ content: [{ type: 'text', text }] }) })
 */
export class McpRegistry extends EventEmitter {
  readonly #tools = new Map<string, CompiledTool>()
  readonly #resources = new Map<string, ResourceDefinition>()
  readonly #templates = new Map<string, CompiledTemplate>()
  readonly #prompts = new Map<string, PromptDefinition>()
  #toolList: Tool[] | null = null
  #caps: ServerCapabilities | null = null

  /** Declares a tool. Throws if the name is taken. */
  tool<I extends SchemaLike, O extends SchemaLike>(def: ToolDefinition<I, O>): this {
    if (this.#tools.has(def.name)) throw new FST_MCP_DUPLICATE(`Tool "${def.name}" is already registered`)
    const tool: Tool = {
      name: def.name,
      description: def.description,
      inputSchema: (def.input === undefined ? { type: 'object', properties: {} } : toJsonSchema(def.input)) as Tool['inputSchema']
    }
    if (def.title !== undefined) tool.title = def.title
    if (def.output !== undefined) tool.outputSchema = toJsonSchema(def.output) as Tool['outputSchema']
    if (def.annotations !== undefined) tool.annotations = def.annotations
    if (def.icons !== undefined) tool.icons = def.icons
    const meta = { ...def._meta }
    if (def.scopes !== undefined && def.scopes.length > 0) meta[REQUIRED_SCOPES_META] = def.scopes
    if (Object.keys(meta).length > 0) tool._meta = meta
    this.#tools.set(def.name, {
      def: def as unknown as ToolDefinition,
      tool,
      headers: headerParams(def.name, tool.inputSchema),
      validateInput: def.input === undefined ? null : compileValidator(def.input),
      validateOutput: def.output === undefined ? null : compileValidator(def.output)
    })
    this.#toolList = null
    this.#caps = null
    this.emit('changed', 'tools')
    return this
  }

  /** Declares a resource with a fixed URI. */
  resource (def: ResourceDefinition): this {
    if (this.#resources.has(def.uri)) throw new FST_MCP_DUPLICATE(`Resource "${def.uri}" is already registered`)
    this.#resources.set(def.uri, def)
    this.#caps = null
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a family of resources by RFC 6570 URI template. */
  resourceTemplate (def: ResourceTemplateDefinition): this {
    if (this.#templates.has(def.uriTemplate)) throw new FST_MCP_DUPLICATE(`Resource template "${def.uriTemplate}" is already registered`)
    this.#templates.set(def.uriTemplate, { def, template: new UriTemplate(def.uriTemplate) })
    this.#caps = null
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a prompt. */
  prompt (def: PromptDefinition): this {
    if (this.#prompts.has(def.name)) throw new FST_MCP_DUPLICATE(`Prompt "${def.name}" is already registered`)
    this.#prompts.set(def.name, def)
    this.#caps = null
    this.emit('changed', 'prompts')
    return this
  }

  /** Every scope any definition declares (for `scopes_supported`). */
  allScopes (): string[] {
    const all = new Set<string>()
    const add = (s: string[] | undefined): void => { for (const x of s ?? []) all.add(x) }
    for (const t of this.#tools.values()) add(t.def.scopes)
    for (const r of this.#resources.values()) add(r.scopes)
    for (const r of this.#templates.values()) add(r.def.scopes)
    for (const p of this.#prompts.values()) add(p.scopes)
    return [...all].sort()
  }

  /** Whether `caller` holds the scopes the call needs (always true without a caller: the endpoint is unauthenticated). */
  permits (caller: McpCaller | null, method: string, params: unknown): boolean {
    return hasScopes(caller, this.requiredScopes(method, params)?.scopes)
  }

  /**
   * The scopes a JSON-RPC call needs, read from its method and params (tool name, resource URI, prompt name).
   * Unknown targets need none here: dispatch answers them with its own error.
   */
  requiredScopes (method: string, params: unknown): { scopes: string[], target: string } | null {
    const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>
    if (method === 'tools/call' && typeof p.name === 'string') {
      const scopes = this.#tools.get(p.name)?.def.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `tool "${p.name}"` } : null
    }
    if (method === 'prompts/get' && typeof p.name === 'string') {
      const scopes = this.#prompts.get(p.name)?.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `prompt "${p.name}"` } : null
    }
    if ((method === 'resources/read' || method === 'resources/subscribe') && typeof p.uri === 'string') {
      const scopes = this.#findResource(p.uri)?.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `resource "${p.uri}"` } : null
    }
    return null
  }

  /** Names of the tools, for diagnostics. */
  toolNames (): string[] { return [...this.#tools.keys()] }

  /** The capabilities a server built from this registry declares. */
  capabilities (): ServerCapabilities {
    this.#caps ??= this.#capabilities()
    return this.#caps
  }

  #capabilities (): ServerCapabilities {
    const caps: ServerCapabilities = { logging: {}, tools: { listChanged: true } }
    if (this.#resources.size > 0 || this.#templates.size > 0) {
      const subscribe = [...this.#resources.values()].some((r) => r.subscribable === true) ||
        [...this.#templates.values()].some((t) => t.def.subscribable === true)
      caps.resources = subscribe ? { subscribe: true, listChanged: true } : { listChanged: true }
    }
    if (this.#prompts.size > 0) caps.prompts = { listChanged: true }
    const completes = [...this.#prompts.values()].some((p) => p.arguments?.some((a) => a.complete !== undefined)) ||
      [...this.#templates.values()].some((t) => t.def.complete !== undefined)
    if (completes) caps.completions = {}
    return caps
  }

  #findResource (uri: string): { scopes?: string[] } | undefined {
    const fixed = this.#resources.get(uri)
    if (fixed !== undefined) return fixed
    for (const t of this.#templates.values()) if (t.template.match(uri) !== null) return t.def
    return undefined
  }

  #tools_ (): Tool[] {
    this.#toolList ??= [...this.#tools.values()].map((t) => t.tool)
    return this.#toolList
  }

  /** Whether any resource or template is declared. */
  get hasResources (): boolean { return this.#resources.size > 0 || this.#templates.size > 0 }
  /** Whether any prompt is declared. */
  get hasPrompts (): boolean { return this.#prompts.size > 0 }

  /** The `Mcp-Param-*` headers a `tools/call` of `name` must carry (2026-07-28), empty for unknown tools. */
  toolHeaders (name: string): HeaderParam[] { return this.#tools.get(name)?.headers ?? [] }

  /** Every `Mcp-Param-*` header any tool declares (for CORS). */
  headerNames (): string[] {
    const names = new Set<string>()
    for (const t of this.#tools.values()) for (const h of t.headers) names.add(h.header)
    return [...names]
  }

  /** Whether `uri` names a resource that may be subscribed to. */
  subscribable (uri: string): boolean {
    const fixed = this.#resources.get(uri)
    if (fixed !== undefined) return fixed.subscribable === true
    for (const t of this.#templates.values()) if (t.template.match(uri) !== null) return t.def.subscribable === true
    return false
  }

  /** The handler context of one request. */
  context (io: RequestIO, binding: RequestBinding): McpContext {
    return new HandlerContext(io, binding)
  }

  /** `tools/list`: the precomputed list, filtered for the caller and the session's version, paged. */
  listTools (binding: RequestBinding, cursor: string | undefined, options: { toolsList?: 'all' | 'allowed', pageSize?: number } = {}): { tools: Tool[], nextCursor?: string } {
    let tools = this.#tools_()
    if (options.toolsList === 'allowed' && binding.caller !== null) {
      tools = tools.filter((t) => hasScopes(binding.caller, this.#tools.get(t.name)?.def.scopes))
    }
    if (!versionAtLeast(binding.session, '2025-06-18')) {
      tools = tools.map(({ outputSchema: _o, title: _t, icons: _i, ...rest }) => rest)
    }
    const { items, nextCursor } = page(tools, cursor, options.pageSize ?? 100)
    return nextCursor === undefined ? { tools: items } : { tools: items, nextCursor }
  }

  /**
   * `tools/call`: scopes, input validation, the handler, output validation. A handler's exception becomes
   * an `isError` result; protocol errors (unknown tool, a missing client capability, a pending 2026 input
   * request) propagate.
   */
  /** Whether spans carry the caller's subject (`enduser.id`): the plugin's `telemetry.recordSubject`. */
  traceSubject = false

  /** Awaited when a call's arguments fail the tool's input schema, before the in-band error is returned (the plugin's `onRefusal`). */
  invalidArguments: ((ctx: McpContext, tool: string, message: string) => Promise<void>) | null = null

  async callTool (name: string, args: unknown, ctx: McpContext, enforceScopes = true): Promise<CallToolResult> {
    if (!telemetryEnabled()) return await this.#callTool(name, args, ctx, enforceScopes)
    const target = this.#tools.has(name) ? name : undefined
    return await traceOperation({ method: 'tools/call', target, toolName: target }, scopeOf(ctx, this.traceSubject), async () => await this.#callTool(name, args, ctx, enforceScopes), (r) => r.isError === true ? 'tool_error' : null)
  }

  async #callTool (name: string, args: unknown, ctx: McpContext, enforceScopes: boolean): Promise<CallToolResult> {
    const compiled = this.#tools.get(name)
    if (compiled === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown tool: ${name}`)
    if (enforceScopes && !hasScopes(ctx.caller, compiled.def.scopes)) {
      throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for tool "${name}": requires ${compiled.def.scopes?.join(' ')}`)
    }
    let input: unknown = args ?? {}
    if (compiled.validateInput !== null) {
      const checked = await compiled.validateInput(input)
      if (!checked.ok) {
        const text = `Invalid arguments for tool ${name}: ${checked.message}`
        if (this.invalidArguments !== null) await this.invalidArguments(ctx, name, text)
        return { content: [{ type: 'text', text }], isError: true }
      }
      input = checked.value
    }
    let out: ToolReturn
    try {
      out = await compiled.def.handler(input as never, ctx)
    } catch (err) {
      if (err instanceof ProtocolError || err instanceof InputRequiredSignal) throw err
      const message = err instanceof McpToolError ? err.message : `Tool ${name} failed: ${(err as Error)?.message ?? String(err)}`
      return { content: [{ type: 'text', text: message }], isError: true }
    }
    const result = { ...out, content: out.content ?? [] } as CallToolResult
    if (result.structuredContent !== undefined && result.isError !== true && compiled.validateOutput !== null) {
      const checked = await compiled.validateOutput(result.structuredContent)
      if (!checked.ok) throw new ProtocolError(RPC.INTERNAL_ERROR, `Tool ${name} returned output that does not match its output schema: ${checked.message}`)
    }
    if (result.structuredContent !== undefined && result.content.length === 0) {
      result.content = [{ type: 'text', text: JSON.stringify(result.structuredContent) }]
    }
    if (!versionAtLeast(ctx.session, '2025-06-18')) delete result.structuredContent
    return result
  }

  /** `resources/list`: the fixed resources, then what each template lists. */
  async listResources (ctx: McpContext, cursor: string | undefined, pageSize = 100): Promise<{ resources: Resource[], nextCursor?: string }> {
    const list: Resource[] = [...this.#resources.values()].map((r) => {
      const res: Resource = { uri: r.uri, name: r.name }
      if (r.title !== undefined) res.title = r.title
      if (r.description !== undefined) res.description = r.description
      if (r.mimeType !== undefined) res.mimeType = r.mimeType
      if (r.icons !== undefined) res.icons = r.icons
      if (r._meta !== undefined) res._meta = r._meta
      return res
    })
    for (const t of this.#templates.values()) {
      if (t.def.list !== undefined) list.push(...await t.def.list(ctx))
    }
    const { items, nextCursor } = page(list, cursor, pageSize)
    return nextCursor === undefined ? { resources: items } : { resources: items, nextCursor }
  }

  /** `resources/templates/list`. */
  listResourceTemplates (cursor: string | undefined, pageSize = 100): { resourceTemplates: ResourceTemplate[], nextCursor?: string } {
    const list: ResourceTemplate[] = [...this.#templates.values()].map(({ def }) => {
      const t: ResourceTemplate = { uriTemplate: def.uriTemplate, name: def.name }
      if (def.title !== undefined) t.title = def.title
      if (def.description !== undefined) t.description = def.description
      if (def.mimeType !== undefined) t.mimeType = def.mimeType
      if (def.icons !== undefined) t.icons = def.icons
      return t
    })
    const { items, nextCursor } = page(list, cursor, pageSize)
    return nextCursor === undefined ? { resourceTemplates: items } : { resourceTemplates: items, nextCursor }
  }

  /** `resources/read`: a fixed resource or the first template that matches; unknown → -32602 with `data.uri`. */
  async readResource (uri: string, ctx: McpContext, enforceScopes = true): Promise<ReadResourceResult> {
    if (!telemetryEnabled()) return await this.#readResource(uri, ctx, enforceScopes)
    return await traceOperation({ method: 'resources/read', resourceUri: uri }, scopeOf(ctx, this.traceSubject), async () => await this.#readResource(uri, ctx, enforceScopes), () => null)
  }

  async #readResource (uri: string, ctx: McpContext, enforceScopes: boolean): Promise<ReadResourceResult> {
    let url: URL
    try { url = new URL(uri) } catch { throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid resource URI: ${uri}`, { uri }) }
    const fixed = this.#resources.get(uri)
    if (fixed !== undefined) {
      if (enforceScopes && !hasScopes(ctx.caller, fixed.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
      return await fixed.handler(url, ctx)
    }
    for (const { def, template } of this.#templates.values()) {
      const vars = template.match(uri)
      if (vars === null) continue
      if (enforceScopes && !hasScopes(ctx.caller, def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
      return await def.handler(url, vars, ctx)
    }
    throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${uri}`, { uri })
  }

  /** `prompts/list`. */
  listPrompts (cursor: string | undefined, pageSize = 100): { prompts: Prompt[], nextCursor?: string } {
    const list: Prompt[] = [...this.#prompts.values()].map((p) => {
      const prompt: Prompt = { name: p.name, description: p.description }
      if (p.title !== undefined) prompt.title = p.title
      if (p.icons !== undefined) prompt.icons = p.icons
      if (p.arguments !== undefined) {
        prompt.arguments = p.arguments.map(({ complete: _c, ...a }) => a)
      }
      const meta = { ...p._meta }
      if (p.scopes !== undefined && p.scopes.length > 0) meta[REQUIRED_SCOPES_META] = p.scopes
      if (Object.keys(meta).length > 0) prompt._meta = meta
      return prompt
    })
    const { items, nextCursor } = page(list, cursor, pageSize)
    return nextCursor === undefined ? { prompts: items } : { prompts: items, nextCursor }
  }

  /** `prompts/get`: scopes, required arguments, the handler. */
  async getPrompt (name: string, args: Record<string, string> | undefined, ctx: McpContext, enforceScopes = true): Promise<GetPromptResult> {
    if (!telemetryEnabled()) return await this.#getPrompt(name, args, ctx, enforceScopes)
    const target = this.#prompts.has(name) ? name : undefined
    return await traceOperation({ method: 'prompts/get', target, promptName: target }, scopeOf(ctx, this.traceSubject), async () => await this.#getPrompt(name, args, ctx, enforceScopes), () => null)
  }

  async #getPrompt (name: string, args: Record<string, string> | undefined, ctx: McpContext, enforceScopes: boolean): Promise<GetPromptResult> {
    const def = this.#prompts.get(name)
    if (def === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown prompt: ${name}`)
    if (enforceScopes && !hasScopes(ctx.caller, def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for prompt "${def.name}"`)
    const given = args ?? {}
    const missing = (def.arguments ?? []).filter((a) => a.required === true && typeof given[a.name] !== 'string').map((a) => a.name)
    if (missing.length > 0) throw new ProtocolError(RPC.INVALID_PARAMS, `Missing required arguments for prompt ${def.name}: ${missing.join(', ')}`)
    return await def.handler(given, ctx)
  }

  /**
   * `completion/complete` for a prompt argument or a resource template variable. A template's variables
   * complete only for a caller holding the template's scopes (its values are the resources' names).
   */
  async complete (params: CompleteRequestParams, caller: McpCaller | null = null, enforceScopes = true): Promise<CompleteResult> {
    const { ref, argument } = params
    const context = { arguments: params.context?.arguments ?? {}, caller }
    let fn
    if (ref.type === 'ref/prompt') {
      const prompt = this.#prompts.get(ref.name)
      if (prompt === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown prompt: ${ref.name}`)
      fn = prompt.arguments?.find((a) => a.name === argument.name)?.complete
    } else {
      const t = this.#templates.get(ref.uri)
      if (t === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown resource template: ${ref.uri}`)
      if (enforceScopes && !hasScopes(caller, t.def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource template "${ref.uri}"`)
      fn = t.def.complete?.[argument.name]
    }
    const values = fn === undefined ? [] : await fn(argument.value, context)
    return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } }
  }

  /** Builds an SDK `Server` serving this registry. */
  createServer (options: CreateServerOptions): Server {
    const server = new Server(options.serverInfo, {
      capabilities: structuredClone(this.capabilities()),
      ...(options.instructions === undefined ? {} : { instructions: options.instructions })
    })
    this.install(server, options)
    return server
  }

  /** Installs the request handlers of this registry on an SDK `Server` (2025 sessions, stateless mode, stdio). */
  install (server: Server, options: CreateServerOptions): void {
    const { resolve } = options
    const enforce = options.enforceScopes ?? true
    const pageSize = options.pageSize ?? 100
    const context = (sdk: ServerContext): McpContext => this.context(sdkIO(server, sdk), resolve(sdk))

    server.setRequestHandler('tools/list', async (request, sdk) => {
      return this.listTools(resolve(sdk), request.params?.cursor, { toolsList: options.toolsList ?? 'all', pageSize })
    })
    server.setRequestHandler('tools/call', async (request, sdk) => {
      return await this.callTool(request.params.name, request.params.arguments, context(sdk), enforce)
    })

    if (this.hasResources) {
      server.setRequestHandler('resources/list', async (request, sdk) => await this.listResources(context(sdk), request.params?.cursor, pageSize))
      server.setRequestHandler('resources/templates/list', async (request) => this.listResourceTemplates(request.params?.cursor, pageSize))
      server.setRequestHandler('resources/read', async (request, sdk) => await this.readResource(request.params.uri, context(sdk), enforce))
      if (this.capabilities().resources?.subscribe === true) {
        server.setRequestHandler('resources/subscribe', async (request, sdk) => {
          const binding = resolve(sdk)
          if (this.#findResource(request.params.uri) === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${request.params.uri}`, { uri: request.params.uri })
          if (!this.subscribable(request.params.uri)) throw new ProtocolError(RPC.INVALID_PARAMS, `Resource does not support subscriptions: ${request.params.uri}`, { uri: request.params.uri })
          await binding.subscribe?.(request.params.uri)
          return {}
        })
        server.setRequestHandler('resources/unsubscribe', async (request, sdk) => {
          await resolve(sdk).unsubscribe?.(request.params.uri)
          return {}
        })
      }
    }

    if (this.hasPrompts) {
      server.setRequestHandler('prompts/list', async (request) => this.listPrompts(request.params?.cursor, pageSize))
      server.setRequestHandler('prompts/get', async (request, sdk) => await this.getPrompt(request.params.name, request.params.arguments, context(sdk), enforce))
    }

    if (this.capabilities().completions !== undefined) {
      server.setRequestHandler('completion/complete', async (request, sdk) => await this.complete(request.params, resolve(sdk).caller, enforce))
    }
  }
}

const NO_CLIENT: McpClient = { protocolVersion: '2025-03-26', info: null, capabilities: {} }

/**
 * The context of one handler call. A class, not an object literal: a literal with a getter (`signal`)
 * gets a map of its own each time, allocated in old space, which keeps every request's objects alive
 * until a full collection (measured: a third of the CPU of a tool call went to the garbage collector).
 * Its functions are own properties, so destructuring `const { progress } = ctx` works.
 */
class HandlerContext implements McpContext {
  readonly requestId: RequestId
  readonly method: string
  readonly session: McpSessionInfo | null
  readonly client: McpClient
  readonly caller: McpCaller | null
  readonly request: FastifyRequest | null
  readonly meta: Record<string, unknown> | undefined
  readonly #io: RequestIO

  constructor (io: RequestIO, binding: RequestBinding) {
    const session = binding.session
    this.#io = io
    this.requestId = io.id
    this.method = io.method
    this.session = session
    this.client = binding.client ?? (session === null
      ? NO_CLIENT
      : { protocolVersion: session.protocolVersion, info: session.clientInfo, capabilities: session.clientCapabilities })
    this.caller = binding.caller
    this.request = binding.request
    this.meta = io.meta
    this.closeStream = binding.closeStream
  }

  get signal (): AbortSignal { return this.#io.signal }

  progress: McpContext['progress'] = async (progress, total, message) => {
    const progressToken = this.meta?.progressToken
    if (progressToken === undefined) return
    const params: Record<string, unknown> = { progressToken, progress }
    if (total !== undefined) params.total = total
    if (message !== undefined) params.message = message
    await this.#io.notify({ method: 'notifications/progress', params })
  }

  log: McpContext['log'] = async (level, data, logger) => { await this.#io.log(level, data, logger) }
  elicit: McpContext['elicit'] = async (params, options) => await this.#io.elicit(params, options)
  sample: McpContext['sample'] = async (params, options) => await this.#io.sample(params, options)
  roots: McpContext['roots'] = async (options) => await this.#io.roots(options)
  notify: McpContext['notify'] = async (method, params) => { await this.#io.notify(params === undefined ? { method } : { method, params }) }
  readonly closeStream: () => void
}

/** The request I/O of a handler dispatched by the SDK `Server` (2025 sessions, stateless mode, stdio). */
function sdkIO (server: Server, sdk: ServerContext): RequestIO {
  const req = sdk.mcpReq
  // Server-to-client requests ride the stream of the request that caused them (not the GET stream).
  const related = (options: InputOptions | undefined): RequestOptions => ({ ...withoutKey(options), relatedRequestId: req.id })
  return {
    id: req.id,
    method: req.method,
    meta: req._meta as Record<string, unknown> | undefined,
    signal: req.signal,
    notify: async (n) => { await req.notify(n) },
    log: async (level, data, logger) => { await req.log(level, data, logger) },
    elicit: async (params, options) => await req.elicitInput(params, related(options)),
    sample: async (params, options) => await req.requestSampling(params, related(options)) as never,
    roots: async (options) => await server.listRoots(undefined, related(options))
  }
}

/** Request options without the 2026 input key (which only the plugin's dispatch reads). */
export function withoutKey (options: InputOptions | undefined): RequestOptions {
  if (options === undefined) return {}
  const { key: _key, ...rest } = options
  return rest
}
