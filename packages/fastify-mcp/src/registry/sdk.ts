import { ProtocolError, Server, type CallToolResult, type CompleteRequestParams, type CompleteResult, type GetPromptResult, type Implementation, type Prompt, type ReadResourceResult, type RequestOptions, type Resource, type ResourceTemplateType as ResourceTemplate, type ServerCapabilities, type ServerContext, type Tool } from '@modelcontextprotocol/server'
import { RPC } from '../errors.js'
import type { RequestBinding, RequestIO } from './context.js'
import type { InputOptions, McpCaller, McpContext } from './types.js'

/** Maps the SDK's handler context to the binding of the request it serves. */
export type BindingResolver = (ctx: ServerContext) => RequestBinding

/** Options of {@link createSdkServer} (and `McpRegistry.createServer`). */
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

/** What the SDK handlers call: the registry's dispatch (see `McpRegistry`). */
export interface SdkDispatch {
  readonly hasResources: boolean
  readonly hasPrompts: boolean
  capabilities: () => ServerCapabilities
  hasResource: (uri: string) => boolean
  subscribable: (uri: string) => boolean
  context: (io: RequestIO, binding: RequestBinding) => McpContext
  listTools: (binding: RequestBinding, cursor: string | undefined, options: { toolsList?: 'all' | 'allowed', pageSize?: number }) => { tools: Tool[], nextCursor?: string }
  callTool: (name: string, args: unknown, ctx: McpContext, enforceScopes: boolean) => Promise<CallToolResult>
  listResources: (ctx: McpContext, cursor: string | undefined, pageSize: number) => Promise<{ resources: Resource[], nextCursor?: string }>
  listResourceTemplates: (cursor: string | undefined, pageSize: number) => { resourceTemplates: ResourceTemplate[], nextCursor?: string }
  readResource: (uri: string, ctx: McpContext, enforceScopes: boolean) => Promise<ReadResourceResult>
  listPrompts: (cursor: string | undefined, pageSize: number) => { prompts: Prompt[], nextCursor?: string }
  getPrompt: (name: string, args: Record<string, string> | undefined, ctx: McpContext, enforceScopes: boolean) => Promise<GetPromptResult>
  complete: (params: CompleteRequestParams, caller: McpCaller | null, enforceScopes: boolean) => Promise<CompleteResult>
}

/** Builds an SDK `Server` serving `registry` (2025 sessions, stateless mode, stdio). */
export function createSdkServer (registry: SdkDispatch, options: CreateServerOptions): Server {
  const server = new Server(options.serverInfo, {
    capabilities: structuredClone(registry.capabilities()),
    ...(options.instructions === undefined ? {} : { instructions: options.instructions })
  })
  installSdkHandlers(registry, server, options)
  return server
}

/** Installs the request handlers of `registry` on an SDK `Server`. */
export function installSdkHandlers (registry: SdkDispatch, server: Server, options: CreateServerOptions): void {
  const { resolve } = options
  const enforce = options.enforceScopes ?? true
  const pageSize = options.pageSize ?? 100
  const context = (sdk: ServerContext): McpContext => registry.context(sdkIO(server, sdk), resolve(sdk))

  server.setRequestHandler('tools/list', async (request, sdk) => {
    return registry.listTools(resolve(sdk), request.params?.cursor, { toolsList: options.toolsList ?? 'all', pageSize })
  })
  server.setRequestHandler('tools/call', async (request, sdk) => {
    return await registry.callTool(request.params.name, request.params.arguments, context(sdk), enforce)
  })

  if (registry.hasResources) {
    server.setRequestHandler('resources/list', async (request, sdk) => await registry.listResources(context(sdk), request.params?.cursor, pageSize))
    server.setRequestHandler('resources/templates/list', async (request) => registry.listResourceTemplates(request.params?.cursor, pageSize))
    server.setRequestHandler('resources/read', async (request, sdk) => await registry.readResource(request.params.uri, context(sdk), enforce))
    if (registry.capabilities().resources?.subscribe === true) {
      server.setRequestHandler('resources/subscribe', async (request, sdk) => {
        const binding = resolve(sdk)
        if (!registry.hasResource(request.params.uri)) throw new ProtocolError(RPC.INVALID_PARAMS, `Resource not found: ${request.params.uri}`, { uri: request.params.uri })
        if (!registry.subscribable(request.params.uri)) throw new ProtocolError(RPC.INVALID_PARAMS, `Resource does not support subscriptions: ${request.params.uri}`, { uri: request.params.uri })
        await binding.subscribe?.(request.params.uri)
        return {}
      })
      server.setRequestHandler('resources/unsubscribe', async (request, sdk) => {
        await resolve(sdk).unsubscribe?.(request.params.uri)
        return {}
      })
    }
  }

  if (registry.hasPrompts) {
    server.setRequestHandler('prompts/list', async (request) => registry.listPrompts(request.params?.cursor, pageSize))
    server.setRequestHandler('prompts/get', async (request, sdk) => await registry.getPrompt(request.params.name, request.params.arguments, context(sdk), enforce))
  }

  if (registry.capabilities().completions !== undefined) {
    server.setRequestHandler('completion/complete', async (request, sdk) => await registry.complete(request.params, resolve(sdk).caller, enforce))
  }
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
