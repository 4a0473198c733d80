import {
  ProtocolError,
  type CallToolResult,
  type CompleteRequestParams,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Server,
  type Tool
} from '@modelcontextprotocol/server'
import { McpToolError, RPC } from '../errors.js'
import { scopeOf, telemetryEnabled, traceOperation } from '../telemetry/mcp.js'
import { HandlerContext, type RequestBinding, type RequestIO } from './context.js'
import { hasScopes, McpDefinitions, REQUIRED_SCOPES_META } from './definitions.js'
import { InputRequiredSignal } from './input.js'
import { createSdkServer, installSdkHandlers, type CreateServerOptions, type SdkDispatch } from './sdk.js'
import type { McpCaller, McpContext, McpSessionInfo, ToolReturn } from './types.js'

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
export class McpRegistry extends McpDefinitions implements SdkDispatch {
  /** The handler context of one request. */
  context (io: RequestIO, binding: RequestBinding): McpContext {
    return new HandlerContext(io, binding)
  }

  /** `tools/list`: the precomputed list, filtered for the caller and the session's version, paged. */
  listTools (binding: RequestBinding, cursor: string | undefined, options: { toolsList?: 'all' | 'allowed', pageSize?: number } = {}): { tools: Tool[], nextCursor?: string } {
    let tools = this.toolList()
    if (options.toolsList === 'allowed' && binding.caller !== null) {
      tools = tools.filter((t) => hasScopes(binding.caller, this.compiledTools.get(t.name)?.def.scopes))
    }
    if (!versionAtLeast(binding.session, '2025-06-18')) {
      tools = tools.map(({ outputSchema: _o, title: _t, icons: _i, ...rest }) => rest)
    }
    const { items, nextCursor } = page(tools, cursor, options.pageSize ?? 100)
    return nextCursor === undefined ? { tools: items } : { tools: items, nextCursor }
  }

  /** Whether spans carry the caller's subject (`enduser.id`): the plugin's `telemetry.recordSubject`. */
  traceSubject = false

  /** Awaited when a call's arguments fail the tool's input schema, before the in-band error is returned (the plugin's `onRefusal`). */
  invalidArguments: ((ctx: McpContext, tool: string, message: string) => Promise<void>) | null = null

  /**
   * `tools/call`: scopes, input validation, the handler, output validation. A handler's exception becomes
   * an `isError` result; protocol errors (unknown tool, a missing client capability, a pending 2026 input
   * request) propagate.
   */
  async callTool (name: string, args: unknown, ctx: McpContext, enforceScopes = true): Promise<CallToolResult> {
    if (!telemetryEnabled()) return await this.#callTool(name, args, ctx, enforceScopes)
    const target = this.compiledTools.has(name) ? name : undefined
    return await traceOperation({ method: 'tools/call', target, toolName: target }, scopeOf(ctx, this.traceSubject), async () => await this.#callTool(name, args, ctx, enforceScopes), (r) => r.isError === true ? 'tool_error' : null)
  }

  async #callTool (name: string, args: unknown, ctx: McpContext, enforceScopes: boolean): Promise<CallToolResult> {
    const compiled = this.compiledTools.get(name)
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
    const list: Resource[] = [...this.fixedResources.values()].map((r) => {
      const res: Resource = { uri: r.uri, name: r.name }
      if (r.title !== undefined) res.title = r.title
      if (r.description !== undefined) res.description = r.description
      if (r.mimeType !== undefined) res.mimeType = r.mimeType
      if (r.icons !== undefined) res.icons = r.icons
      if (r._meta !== undefined) res._meta = r._meta
      return res
    })
    for (const t of this.templates.values()) {
      if (t.def.list !== undefined) list.push(...await t.def.list(ctx))
    }
    const { items, nextCursor } = page(list, cursor, pageSize)
    return nextCursor === undefined ? { resources: items } : { resources: items, nextCursor }
  }

  /** `resources/templates/list`. */
  listResourceTemplates (cursor: string | undefined, pageSize = 100): { resourceTemplates: ResourceTemplate[], nextCursor?: string } {
    const list: ResourceTemplate[] = [...this.templates.values()].map(({ def }) => {
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
    const fixed = this.fixedResources.get(uri)
    if (fixed !== undefined) {
      if (enforceScopes && !hasScopes(ctx.caller, fixed.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
      return await fixed.handler(url, ctx)
    }
    for (const { def, template } of this.templates.values()) {
      const vars = template.match(uri)
      if (vars === null) continue
      if (enforceScopes && !hasScopes(ctx.caller, def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource "${uri}"`)
      return await def.handler(url, vars, ctx)
    }
    throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${uri}`, { uri })
  }

  /** `prompts/list`. */
  listPrompts (cursor: string | undefined, pageSize = 100): { prompts: Prompt[], nextCursor?: string } {
    const list: Prompt[] = [...this.promptDefs.values()].map((p) => {
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
    const target = this.promptDefs.has(name) ? name : undefined
    return await traceOperation({ method: 'prompts/get', target, promptName: target }, scopeOf(ctx, this.traceSubject), async () => await this.#getPrompt(name, args, ctx, enforceScopes), () => null)
  }

  async #getPrompt (name: string, args: Record<string, string> | undefined, ctx: McpContext, enforceScopes: boolean): Promise<GetPromptResult> {
    const def = this.promptDefs.get(name)
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
      const prompt = this.promptDefs.get(ref.name)
      if (prompt === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown prompt: ${ref.name}`)
      fn = prompt.arguments?.find((a) => a.name === argument.name)?.complete
    } else {
      const t = this.templates.get(ref.uri)
      if (t === undefined) throw new ProtocolError(RPC.INVALID_PARAMS, `Unknown resource template: ${ref.uri}`)
      if (enforceScopes && !hasScopes(caller, t.def.scopes)) throw new ProtocolError(RPC.FORBIDDEN, `Insufficient scope for resource template "${ref.uri}"`)
      fn = t.def.complete?.[argument.name]
    }
    const values = fn === undefined ? [] : await fn(argument.value, context)
    return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } }
  }


  /** Builds an SDK `Server` serving this registry. */
  createServer (options: CreateServerOptions): Server { return createSdkServer(this, options) }

  /** Installs the request handlers of this registry on an SDK `Server` (2025 sessions, stateless mode, stdio). */
  install (server: Server, options: CreateServerOptions): void { installSdkHandlers(this, server, options) }
}
