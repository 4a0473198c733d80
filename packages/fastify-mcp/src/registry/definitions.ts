import { EventEmitter } from 'node:events'
import { fromJsonSchema, UriTemplate, type JsonSchemaType, type ServerCapabilities, type StandardSchemaV1, type Tool } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { FST_MCP_DUPLICATE, FST_MCP_INVALID_DEFINITION } from '../errors.js'
import type { McpCaller, PromptDefinition, ResourceDefinition, ResourceTemplateDefinition, SchemaLike, ToolDefinition } from './types.js'

/** A tool argument mirrored into an `Mcp-Param-*` header (2026-07-28 `x-mcp-header`). */
export interface HeaderParam {
  /** Where the value sits in `arguments` (property names from the root). */
  path: string[]
  /** The header name, lower case (`mcp-param-region`). */
  header: string
  type: 'string' | 'integer' | 'boolean'
}

export interface CompiledTool {
  def: ToolDefinition
  tool: Tool
  headers: HeaderParam[]
  validateInput: ((value: unknown) => Promise<{ ok: true, value: unknown } | { ok: false, message: string }>) | null
  validateOutput: ((value: unknown) => Promise<{ ok: true, value: unknown } | { ok: false, message: string }>) | null
}

export interface CompiledTemplate { def: ResourceTemplateDefinition, template: UriTemplate }

export const REQUIRED_SCOPES_META = 'requiredScopes'

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

export function hasScopes (caller: McpCaller | null, scopes: string[] | undefined): boolean {
  if (scopes === undefined || scopes.length === 0 || caller === null) return true
  return scopes.every((s) => caller.scopes.includes(s))
}

/**
 * The declared tools, resources and prompts, compiled once (JSON Schema, validators, `Mcp-Param-*`
 * headers) and the questions asked of them (scopes, capabilities, lookups). Dispatch is in
 * `McpRegistry`, the SDK wiring in `sdk.ts`.
 */
export class McpDefinitions extends EventEmitter {
  protected readonly compiledTools = new Map<string, CompiledTool>()
  protected readonly fixedResources = new Map<string, ResourceDefinition>()
  protected readonly templates = new Map<string, CompiledTemplate>()
  protected readonly promptDefs = new Map<string, PromptDefinition>()
  #toolList: Tool[] | null = null
  #caps: ServerCapabilities | null = null

  /** Declares a tool. Throws if the name is taken. */
  tool<I extends SchemaLike, O extends SchemaLike>(def: ToolDefinition<I, O>): this {
    if (this.compiledTools.has(def.name)) throw new FST_MCP_DUPLICATE(`Tool "${def.name}" is already registered`)
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
    this.compiledTools.set(def.name, {
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
    if (this.fixedResources.has(def.uri)) throw new FST_MCP_DUPLICATE(`Resource "${def.uri}" is already registered`)
    this.fixedResources.set(def.uri, def)
    this.#caps = null
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a family of resources by RFC 6570 URI template. */
  resourceTemplate (def: ResourceTemplateDefinition): this {
    if (this.templates.has(def.uriTemplate)) throw new FST_MCP_DUPLICATE(`Resource template "${def.uriTemplate}" is already registered`)
    this.templates.set(def.uriTemplate, { def, template: new UriTemplate(def.uriTemplate) })
    this.#caps = null
    this.emit('changed', 'resources')
    return this
  }

  /** Declares a prompt. */
  prompt (def: PromptDefinition): this {
    if (this.promptDefs.has(def.name)) throw new FST_MCP_DUPLICATE(`Prompt "${def.name}" is already registered`)
    this.promptDefs.set(def.name, def)
    this.#caps = null
    this.emit('changed', 'prompts')
    return this
  }

  /** Every scope any definition declares (for `scopes_supported`). */
  allScopes (): string[] {
    const all = new Set<string>()
    const add = (s: string[] | undefined): void => { for (const x of s ?? []) all.add(x) }
    for (const t of this.compiledTools.values()) add(t.def.scopes)
    for (const r of this.fixedResources.values()) add(r.scopes)
    for (const r of this.templates.values()) add(r.def.scopes)
    for (const p of this.promptDefs.values()) add(p.scopes)
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
      const scopes = this.compiledTools.get(p.name)?.def.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `tool "${p.name}"` } : null
    }
    if (method === 'prompts/get' && typeof p.name === 'string') {
      const scopes = this.promptDefs.get(p.name)?.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `prompt "${p.name}"` } : null
    }
    if ((method === 'resources/read' || method === 'resources/subscribe') && typeof p.uri === 'string') {
      const scopes = this.findResource(p.uri)?.scopes
      return scopes !== undefined && scopes.length > 0 ? { scopes, target: `resource "${p.uri}"` } : null
    }
    return null
  }

  /** Names of the tools, for diagnostics. */
  toolNames (): string[] { return [...this.compiledTools.keys()] }

  /** The capabilities a server built from this registry declares. */
  capabilities (): ServerCapabilities {
    this.#caps ??= this.#capabilities()
    return this.#caps
  }

  #capabilities (): ServerCapabilities {
    const caps: ServerCapabilities = { logging: {}, tools: { listChanged: true } }
    if (this.fixedResources.size > 0 || this.templates.size > 0) {
      const subscribe = [...this.fixedResources.values()].some((r) => r.subscribable === true) ||
        [...this.templates.values()].some((t) => t.def.subscribable === true)
      caps.resources = subscribe ? { subscribe: true, listChanged: true } : { listChanged: true }
    }
    if (this.promptDefs.size > 0) caps.prompts = { listChanged: true }
    const completes = [...this.promptDefs.values()].some((p) => p.arguments?.some((a) => a.complete !== undefined)) ||
      [...this.templates.values()].some((t) => t.def.complete !== undefined)
    if (completes) caps.completions = {}
    return caps
  }

  protected findResource (uri: string): { scopes?: string[] } | undefined {
    const fixed = this.fixedResources.get(uri)
    if (fixed !== undefined) return fixed
    for (const t of this.templates.values()) if (t.template.match(uri) !== null) return t.def
    return undefined
  }

  /** Every tool's listing, computed once per change. */
  protected toolList (): Tool[] {
    this.#toolList ??= [...this.compiledTools.values()].map((t) => t.tool)
    return this.#toolList
  }

  /** Whether any resource or template is declared. */
  get hasResources (): boolean { return this.fixedResources.size > 0 || this.templates.size > 0 }
  /** Whether any prompt is declared. */
  get hasPrompts (): boolean { return this.promptDefs.size > 0 }

  /** The `Mcp-Param-*` headers a `tools/call` of `name` must carry (2026-07-28), empty for unknown tools. */
  toolHeaders (name: string): HeaderParam[] { return this.compiledTools.get(name)?.headers ?? [] }

  /** Every `Mcp-Param-*` header any tool declares (for CORS). */
  headerNames (): string[] {
    const names = new Set<string>()
    for (const t of this.compiledTools.values()) for (const h of t.headers) names.add(h.header)
    return [...names]
  }

  /** Whether `uri` names a declared resource or matches a template. */
  hasResource (uri: string): boolean { return this.findResource(uri) !== undefined }

  /** Whether `uri` names a resource that may be subscribed to. */
  subscribable (uri: string): boolean {
    const fixed = this.fixedResources.get(uri)
    if (fixed !== undefined) return fixed.subscribable === true
    for (const t of this.templates.values()) if (t.template.match(uri) !== null) return t.def.subscribable === true
    return false
  }
}
