import type { RequestId } from '@modelcontextprotocol/server'
import type { FastifyRequest } from 'fastify'
import type { McpCaller, McpClient, McpContext, McpSessionInfo } from './types.js'

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

const NO_CLIENT: McpClient = { protocolVersion: '2025-03-26', info: null, capabilities: {} }

/**
 * The context of one handler call. A class, not an object literal: a literal with a getter (`signal`)
 * gets a map of its own each time, allocated in old space, which keeps every request's objects alive
 * until a full collection (measured: a third of the CPU of a tool call went to the garbage collector).
 * Its functions are own properties, so destructuring `const { progress } = ctx` works.
 */
export class HandlerContext implements McpContext {
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
