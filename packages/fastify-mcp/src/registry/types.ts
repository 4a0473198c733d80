import type {
  CallToolResult,
  ClientCapabilities,
  CreateMessageRequestParams,
  CreateMessageResult,
  ElicitRequestFormParams,
  ElicitRequestURLParams,
  ElicitResult,
  GetPromptResult,
  Icon,
  Implementation,
  ListRootsResult,
  LoggingLevel,
  ReadResourceResult,
  RequestOptions,
  Resource,
  StandardSchemaV1,
  ToolAnnotations
} from '@modelcontextprotocol/server'
import type { FastifyRequest } from 'fastify'

/** The verified identity of whoever sent the current request. */
export interface McpCaller {
  /** `sub` of the token (or the OS user over stdio). */
  subject: string
  /** `client_id` or `azp` of the token, when present. */
  clientId: string | null
  /** `iss` of the token. */
  issuer: string | null
  /** Granted scopes. */
  scopes: string[]
  /** `jti` of the token, when present. */
  tokenId: string | null
  /** Expiry, seconds since the epoch, when known. */
  expiresAt: number | null
  /** All verified claims. */
  claims: Record<string, unknown>
}

/** What a handler knows of the session it serves. */
export interface McpSessionInfo {
  id: string
  protocolVersion: string
  clientInfo: Implementation | null
  clientCapabilities: ClientCapabilities
}

/** Options of a server-to-client request made from a handler. */
export type InputOptions = RequestOptions & {
  /**
   * Under 2026-07-28, the key of this input in `inputRequests`/`inputResponses` (default: the kind and the
   * call's position, e.g. `elicitation_1`). Ignored in 2025 sessions.
   */
  key?: string
}

/** What the client of the current request declared about itself (per session in 2025, per request in 2026). */
export interface McpClient {
  /** The protocol version of this request: the session's, or the one the 2026 request names. */
  protocolVersion: string
  info: Implementation | null
  capabilities: ClientCapabilities
}

/** The context handed to every tool, resource and prompt handler. */
export interface McpContext {
  /** JSON-RPC id of the request being served. */
  requestId: string | number
  /** JSON-RPC method being served (`tools/call`, `resources/read`, `prompts/get`, ...). */
  method: string
  /** Fires on `notifications/cancelled`, client disconnect (stateless) or server shutdown. */
  signal: AbortSignal
  /** The session (2025 protocol versions), or null in stateless mode and under 2026-07-28. */
  session: McpSessionInfo | null
  /** The client's protocol version, information and capabilities, in both eras. */
  client: McpClient
  /** The verified caller of this request, or null when the endpoint is unauthenticated. */
  caller: McpCaller | null
  /** The Fastify request that carried this call (null over stdio). */
  request: FastifyRequest | null
  /** `params._meta` of the request. */
  meta: Record<string, unknown> | undefined
  /** Sends `notifications/progress` on this request's stream; a no-op without a progress token. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>
  /** Sends `notifications/message` (filtered by the level the client set). */
  log: (level: LoggingLevel, data: unknown, logger?: string) => Promise<void>
  /**
   * Asks the client for input (`elicitation/create`); rejects when the client lacks the capability.
   * In a 2025 session this is a server-to-client request on the call's stream. Under 2026-07-28 the call
   * ends with an `input_required` result and the handler runs again, from the start, when the client
   * retries with the answer: whatever a handler does before it asks must be safe to repeat.
   */
  elicit: (params: ElicitRequestFormParams | ElicitRequestURLParams, options?: InputOptions) => Promise<ElicitResult>
  /** Asks the client to sample an LLM (`sampling/createMessage`), like {@link McpContext.elicit}. */
  sample: (params: CreateMessageRequestParams, options?: InputOptions) => Promise<CreateMessageResult>
  /** Asks the client for its roots (`roots/list`), like {@link McpContext.elicit}. */
  roots: (options?: InputOptions) => Promise<ListRootsResult>
  /** Sends a notification related to this request. */
  notify: (method: string, params?: Record<string, unknown>) => Promise<void>
  /**
   * Closes the HTTP connection of this request's SSE stream without ending the stream
   * (SSE polling): the client resumes with GET and `Last-Event-ID`. A no-op where unsupported.
   */
  closeStream: () => void
}

/** A zod schema (or any Standard Schema) or a plain JSON Schema object. */
export type SchemaLike = StandardSchemaV1 | Record<string, unknown>

type Infer<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Record<string, unknown>

/** The result a tool handler returns: a full CallToolResult, or only `structuredContent` when an output schema is declared. */
export type ToolReturn = CallToolResult | { structuredContent: Record<string, unknown>, content?: CallToolResult['content'], isError?: boolean }

export interface ToolDefinition<I extends SchemaLike = SchemaLike, O extends SchemaLike = SchemaLike> {
  name: string
  title?: string
  description: string
  /** Input schema: a zod object (validated and converted to JSON Schema 2020-12) or a JSON Schema object. Omit for no arguments. */
  input?: I
  /** Output schema; results must then carry conforming `structuredContent`. */
  output?: O
  annotations?: ToolAnnotations
  icons?: Icon[]
  /** OAuth scopes a caller needs to call this tool (all of them). */
  scopes?: string[]
  _meta?: Record<string, unknown>
  handler: (args: Infer<I>, ctx: McpContext) => ToolReturn | Promise<ToolReturn>
}

/** `caller` is the verified caller of the `completion/complete` request (null when the endpoint is unauthenticated), so completions can be scoped to it. */
export type CompleteFn = (value: string, context: { arguments: Record<string, string>, caller: McpCaller | null }) => string[] | Promise<string[]>

export interface ResourceDefinition {
  uri: string
  name: string
  title?: string
  description?: string
  mimeType?: string
  icons?: Icon[]
  scopes?: string[]
  /** Whether `resources/subscribe` may be used for this resource. */
  subscribable?: boolean
  _meta?: Record<string, unknown>
  handler: (uri: URL, ctx: McpContext) => ReadResourceResult | Promise<ReadResourceResult>
}

export interface ResourceTemplateDefinition {
  uriTemplate: string
  name: string
  title?: string
  description?: string
  mimeType?: string
  icons?: Icon[]
  scopes?: string[]
  /**
   * Whether `resources/subscribe` (2025) and `subscriptions/listen` `resourceSubscriptions` (2026-07-28)
   * may name a concrete URI of this template; announce its changes with `app.mcp.resourceUpdated(uri)`.
   */
  subscribable?: boolean
  /** Completions for template variables. */
  complete?: Record<string, CompleteFn>
  /** Lists concrete resources of this template in `resources/list`. */
  list?: (ctx: McpContext) => Resource[] | Promise<Resource[]>
  _meta?: Record<string, unknown>
  handler: (uri: URL, variables: Record<string, string | string[]>, ctx: McpContext) => ReadResourceResult | Promise<ReadResourceResult>
}

export interface PromptArgumentDefinition {
  name: string
  title?: string
  description?: string
  required?: boolean
  complete?: CompleteFn
}

export interface PromptDefinition {
  name: string
  title?: string
  description: string
  arguments?: PromptArgumentDefinition[]
  icons?: Icon[]
  scopes?: string[]
  _meta?: Record<string, unknown>
  handler: (args: Record<string, string>, ctx: McpContext) => GetPromptResult | Promise<GetPromptResult>
}
