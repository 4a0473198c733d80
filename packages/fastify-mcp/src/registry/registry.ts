import { EventEmitter } from 'node:events'
import {
  fromJsonSchema,
  ProtocolError,
  Server,
  UriTemplate,
  type CallToolResult,
  type Implementation,
  type JsonSchemaType,
  type Prompt,
  type RequestId,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type ServerCapabilities,
  type ServerContext,
  type StandardSchemaV1,
  type Tool
} from '@modelcontextprotocol/server'
import { z } from 'zod'
import { FST_MCP_DUPLICATE, McpToolError, RPC } from '../errors.js'
import type {
  McpCaller,
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
  subscribe?: (uri: string) => Promise<void>
  unsubscribe?: (uri: string) => Promise<void>
}

/** How a handler talks back on the request it serves (through the SDK, or through the plugin's lean path). */
export interface RequestIO {
  id: RequestId
  method: string
  meta: Record<string, unknown> | undefined
  signal: AbortSignal
  notify: (notification: { method: string, params?: Record<string, unknown> }) => Promise<void>
  log: McpContext['log']
  elicit: McpContext['elicit']
  sample: McpContext['sample']
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

interface CompiledTool {
  def: ToolDefinition
  tool: Tool
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
      validateInput: def.input === undefined ? null : compileValidator(def.input),
      validateOutput: def.output === undefined ? null : compileValidator(def.output)
    })
    this.#toolList = null
    this.emit('changed', 'tools')
    return this
  }

  /** Declares a resource with a fixed URI. */
  resource (def: ResourceDefinition): this {
    if (this.#resources.has(def.uri)) throw new FST_MCP_DUPLICATE(`Resource "${def.uri}" is already registered`)
    this.#resources.set(def.uri, def)
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a family of resources by RFC 6570 URI template. */
  resourceTemplate (def: ResourceTemplateDefinition): this {
    if (this.#templates.has(def.uriTemplate)) throw new FST_MCP_DUPLICATE(`Resource template "${def.uriTemplate}" is already registered`)
    this.#templates.set(def.uriTemplate, { def, template: new UriTemplate(def.uriTemplate) })
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a prompt. */
  prompt (def: PromptDefinition): this {
    if (this.#prompts.has(def.name)) throw new FST_MCP_DUPLICATE(`Prompt "${def.name}" is already registered`)
    this.#prompts.set(def.name, def)
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
    const caps: ServerCapabilities = { logging: {}, tools: { listChanged: true } }
    if (this.#resources.size > 0 || this.#templates.size > 0) {
      const subscribe = [...this.#resources.values()].some((r) => r.subscribable === true)
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

  #io (sdk: ServerContext): RequestIO {
    const req = sdk.mcpReq
    return {
      id: req.id,
      method: req.method,
      meta: req._meta as Record<string, unknown> | undefined,
      signal: req.signal,
      notify: async (n) => { await req.notify(n) },
      log: async (level, data, logger) => { await req.log(level, data, logger) },
      // Server-to-client requests ride the stream of the request that caused them (not the GET stream).
      elicit: async (params, options) => await req.elicitInput(params, { ...options, relatedRequestId: req.id }),
      sample: async (params, options) => await req.requestSampling(params, { ...options, relatedRequestId: req.id }) as never
    }
  }

  #context (io: RequestIO, binding: RequestBinding): McpContext {
    const progressToken = io.meta?.progressToken
    return {
      requestId: io.id,
      method: io.method,
      get signal () { return io.signal },
      session: binding.session,
      caller: binding.caller,
      request: binding.request,
      meta: io.meta,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return
        const params: Record<string, unknown> = { progressToken, progress }
        if (total !== undefined) params.total = total
        if (message !== undefined) params.message = message
        await io.notify({ method: 'notifications/progress', params })
      },
      log: io.log,
      elicit: io.elicit,
      sample: io.sample,
      notify: async (method, params) => { await io.notify(params === undefined ? { method } : { method, params }) },
      closeStream: binding.closeStream
    }
  }

  /** `tools/list` for a binding: the precomputed list, filtered for the caller and the session's version, paged. */
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

  /** `tools/call` with the plugin's own request I/O (the lean path), same validation and errors as through the SDK. */
  async callToolWith (name: string, args: unknown, io: RequestIO, binding: RequestBinding, enforceScopes: boolean): Promise<CallToolResult> {
    return await this.#callTool(name, args, this.#context(io, binding), enforceScopes)
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
      if (!checked.ok) return { content: [{ type: 'text', text: `Invalid arguments for tool ${name}: ${checked.message}` }], isError: true }
      input = checked.value
    }
    let out: ToolReturn
    try {
      out = await compiled.def.handler(input as never, ctx)
    } catch (err) {
      if (err instanceof ProtocolError) throw err
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

  /**
   * Runs a tool directly, with the same validation and error handling as `tools/call`
   * (useful for tests and for other transports).
   */
  async call (name: string, args: unknown, ctx: McpContext): Promise<CallToolResult> {
    return await this.#callTool(name, args, ctx, true)
  }

  /** Builds an SDK `Server` serving this registry. */
  createServer (options: CreateServerOptions): Server {
    const server = new Server(options.serverInfo, {
      capabilities: this.capabilities(),
      ...(options.instructions === undefined ? {} : { instructions: options.instructions })
    })
    this.install(server, options)
    return server
  }

  /** Installs the request handlers of this registry on an SDK `Server`. */
  install (server: Server, options: CreateServerOptions): void {
    const { resolve } = options
    const enforce = options.enforceScopes ?? true
    const pageSize = options.pageSize ?? 100

    server.setRequestHandler('tools/list', async (request, sdk) => {
      return this.listTools(resolve(sdk), request.params?.cursor, { toolsList: options.toolsList ?? 'all', pageSize })
    })

    server.setRequestHandler('tools/call', async (request, sdk) => {
      const ctx = this.#context(this.#io(sdk), resolve(sdk))
      return await this.#callTool(request.params.name, request.params.arguments, ctx, enforce)
    })

    if (this.#resources.size > 0 || this.#templates.size > 0) {
      server.setRequestHandler('resources/list', async (request, sdk) => {
        const binding = resolve(sdk)
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
          if (t.def.list !== undefined) list.push(...await t.def.list(this.#context(this.#io(sdk), binding)))
        }
        const { items, nextCursor } = page(list, request.params?.cursor, pageSize)
        return nextCursor === undefined ? { resources: items } : { resources: items, nextCursor }
      })
      server.setRequestHandler('resources/templates/list', async (request) => {
        const list: ResourceTemplate[] = [...this.#templates.values()].map(({ def }) => {
          const t: ResourceTemplate = { uriTemplate: def.uriTemplate, name: def.name }
          if (def.title !== undefined) t.title = def.title
          if (def.description !== undefined) t.description = def.description
          if (def.mimeType !== undefined) t.mimeType = def.mimeType
          if (def.icons !== undefined) t.icons = def.icons
          return t
        })
        const { items, nextCursor } = page(list, request.params?.cursor, pageSize)
        return nextCursor === undefined ? { resourceTemplates: items } : { resourceTemplates: items, nextCursor }
      })
      server.setRequestHandler('resources/read', async (request, sdk) => {
        const uri = request.params.uri
        const binding = resolve(sdk)
        const ctx = this.#context(this.#io(sdk), binding)
        let url: URL
        try { url = new URL(uri) } catch { throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid resource URI: ${uri}`) }
        const fixed = this.#resources.get(uri)
        if (fixed !== undefined) {
          if (enforce && !hasScopes(binding.caller, fixed.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
          return await fixed.handler(url, ctx)
        }
        for (const { def, template } of this.#templates.values()) {
          const vars = template.match(uri)
          if (vars === null) continue
          if (enforce && !hasScopes(binding.caller, def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
          return await def.handler(url, vars, ctx)
        }
        throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${uri}`, { uri })
      })
      if (this.capabilities().resources?.subscribe === true) {
        server.setRequestHandler('resources/subscribe', async (request, sdk) => {
          const binding = resolve(sdk)
          if (this.#findResource(request.params.uri) === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${request.params.uri}`, { uri: request.params.uri })
          await binding.subscribe?.(request.params.uri)
          return {}
        })
        server.setRequestHandler('resources/unsubscribe', async (request, sdk) => {
          await resolve(sdk).unsubscribe?.(request.params.uri)
          return {}
        })
      }
    }

    if (this.#prompts.size > 0) {
      server.setRequestHandler('prompts/list', async (request) => {
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
        const { items, nextCursor } = page(list, request.params?.cursor, pageSize)
        return nextCursor === undefined ? { prompts: items } : { prompts: items, nextCursor }
      })
      server.setRequestHandler('prompts/get', async (request, sdk) => {
        const def = this.#prompts.get(request.params.name)
        if (def === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown prompt: ${request.params.name}`)
        const binding = resolve(sdk)
        if (enforce && !hasScopes(binding.caller, def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for prompt "${def.name}"`)
        const args = request.params.arguments ?? {}
        const missing = (def.arguments ?? []).filter((a) => a.required === true && typeof args[a.name] !== 'string').map((a) => a.name)
        if (missing.length > 0) throw new ProtocolError(RPC.INVALID_PARAMS, `Missing required arguments for prompt ${def.name}: ${missing.join(', ')}`)
        return await def.handler(args, this.#context(this.#io(sdk), binding))
      })
    }

    if (this.capabilities().completions !== undefined) {
      server.setRequestHandler('completion/complete', async (request) => {
        const { ref, argument } = request.params
        const context = { arguments: request.params.context?.arguments ?? {} }
        let fn
        if (ref.type === 'ref/prompt') {
          const prompt = this.#prompts.get(ref.name)
          if (prompt === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown prompt: ${ref.name}`)
          fn = prompt.arguments?.find((a) => a.name === argument.name)?.complete
        } else {
          const t = this.#templates.get(ref.uri)
          if (t === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown resource template: ${ref.uri}`)
          fn = t.def.complete?.[argument.name]
        }
        const values = fn === undefined ? [] : await fn(argument.value, context)
        return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } }
      })
    }
  }
}
