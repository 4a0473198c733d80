import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import fastifyMcp, { type FastifyMcpOptions } from '../../src/index.js'

export const ACC = 'application/json, text/event-stream'
export const PV = '2025-11-25'

export function initBody (version = PV, id: number | string = 1, capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: version, capabilities, clientInfo: { name: 't', version: '0' } } }
}

/** An app with a few tools used across the transport tests. */
export async function buildApp (opts: Partial<FastifyMcpOptions> = {}): Promise<FastifyInstance & { calls: { slow: number, slowAborted: number, slowStarted: number } }> {
  const app = Fastify() as unknown as FastifyInstance & { calls: { slow: number, slowAborted: number, slowStarted: number } }
  app.calls = { slow: 0, slowAborted: 0, slowStarted: 0 }
  await app.register(fastifyMcp, { serverInfo: { name: 'test-server', version: '1.0.0' }, ...opts })
  app.mcp.tool({
    name: 'echo',
    description: 'Echoes its text',
    input: z.object({ text: z.string() }),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] })
  })
  app.mcp.tool({
    name: 'progress',
    description: 'Reports progress three times, then answers',
    handler: async (_args, ctx) => {
      for (const p of [0, 50, 100]) await ctx.progress(p, 100, `at ${p}`)
      return { content: [{ type: 'text', text: 'done' }] }
    }
  })
  app.mcp.tool({
    name: 'slow',
    description: 'Waits until released or cancelled',
    input: z.object({ ms: z.number().default(300) }),
    handler: async ({ ms }, ctx) => {
      app.calls.slowStarted++
      await ctx.log('info', 'slow started')
      const aborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { resolve(false) }, ms)
        ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(true) })
      })
      if (aborted) app.calls.slowAborted++
      else app.calls.slow++
      return { content: [{ type: 'text', text: aborted ? 'aborted' : 'slow done' }] }
    }
  })
  app.mcp.tool({
    name: 'poll',
    description: 'Closes its SSE connection mid-call, then answers',
    handler: async (_args, ctx) => {
      ctx.closeStream()
      // The rest is sent after the connection closed (a later turn of the event loop): it is stored for the resumed stream.
      await new Promise((resolve) => setImmediate(resolve))
      await ctx.progress(1, 2)
      return { content: [{ type: 'text', text: 'polled' }] }
    }
  })
  app.mcp.resource({ uri: 'test://r', name: 'r', subscribable: true, handler: (uri) => ({ contents: [{ uri: uri.href, text: 'r' }] }) })
  return app
}

export interface SseEvent { id?: string, event?: string, data: string, retry?: number }

/** Parses a complete SSE body. */
export function parseSse (text: string): SseEvent[] {
  const events: SseEvent[] = []
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue
    const ev: SseEvent = { data: '' }
    let hasField = false
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      const i = line.indexOf(':')
      const field = i === -1 ? line : line.slice(0, i)
      const value = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '')
      hasField = true
      if (field === 'id') ev.id = value
      else if (field === 'event') ev.event = value
      else if (field === 'data') ev.data += value
      else if (field === 'retry') ev.retry = Number(value)
    }
    if (hasField) events.push(ev)
  }
  return events
}

/** Reads SSE events from a streaming fetch response until `until` returns true or the stream ends. */
export async function readSse (res: Response, until: (events: SseEvent[]) => boolean = () => false): Promise<{ events: SseEvent[], ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let buffer = ''
  const events: SseEvent[] = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return { events, ended: true }
    buffer += decoder.decode(value, { stream: true })
    let idx
    while ((idx = buffer.indexOf('\n\n')) !== -1) {
      events.push(...parseSse(buffer.slice(0, idx + 2)))
      buffer = buffer.slice(idx + 2)
    }
    if (until(events)) {
      await reader.cancel().catch(() => {})
      return { events, ended: false }
    }
  }
}

export function messages (events: SseEvent[]): Array<Record<string, unknown>> {
  return events.filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as Record<string, unknown>)
}

/** Opens a session over a listening app; returns the session id and a POST helper. */
export async function openSession (base: string, version = PV, capabilities: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<{ sid: string, post: (body: unknown, extra?: Record<string, string>) => Promise<Response> }> {
  const res = await fetch(base, { method: 'POST', headers: { accept: ACC, 'content-type': 'application/json', ...headers }, body: JSON.stringify(initBody(version, 1, capabilities)) })
  if (res.status !== 200) throw new Error(`initialize failed: ${res.status} ${await res.text()}`)
  const sid = res.headers.get('mcp-session-id') as string
  await res.text()
  const post = async (body: unknown, extra: Record<string, string> = {}): Promise<Response> => await fetch(base, {
    method: 'POST',
    headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': version, ...headers, ...extra },
    body: JSON.stringify(body)
  })
  const ack = await post({ jsonrpc: '2.0', method: 'notifications/initialized' })
  if (ack.status !== 202) throw new Error(`initialized failed: ${ack.status}`)
  return { sid, post }
}

export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return `http://127.0.0.1:${address.port}/mcp`
}
