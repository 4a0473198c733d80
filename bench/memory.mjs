// In-process measurements: heap per idle session, and the cost of rebuilding a session on another instance.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyMcp, { MemoryBus, MemoryEventStore, MemorySessionStore } from '@mcp-fastify/fastify-mcp'

const ACC = 'application/json, text/event-stream'
const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } })
const call = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } })

async function app (shared) {
  const a = Fastify({ logger: false })
  await a.register(fastifyMcp, { serverInfo: { name: 'bench', version: '1' }, sessions: { maxSessions: 1_000_000, store: shared?.store }, eventStore: shared?.events, bus: shared?.bus })
  a.mcp.tool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), handler: ({ text }) => ({ content: [{ type: 'text', text }] }) })
  await a.ready()
  return a
}

async function heap () {
  for (let i = 0; i < 3; i++) { globalThis.gc?.(); await new Promise((resolve) => setImmediate(resolve)) }
  return process.memoryUsage().heapUsed
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const p99 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length * 0.99)] }

export async function memoryScenarios (smoke) {
  const lines = []
  if (globalThis.gc === undefined) return ['(memory scenarios need node --expose-gc)']
  const n = smoke ? 2000 : 10_000
  const a = await app()
  const before = await heap()
  for (let i = 0; i < n; i++) {
    const res = await a.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json' }, payload: init })
    if (res.statusCode !== 200) throw new Error(`initialize ${res.statusCode}`)
  }
  const after = await heap()
  const live = a.mcp.sessions.liveCount()
  lines.push(`Heap per idle session at ${n.toLocaleString('en')} sessions: **${((after - before) / n / 1024).toFixed(1)} KiB** (${live} live servers cached, the rest records only; command: \`pnpm bench\`).`)
  await a.close()

  // Requests naming unknown session ids must allocate nothing that stays (moved here from a test).
  const bogus = await app()
  const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
  const sendBogus = async () => {
    const res = await bogus.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': randomUUID(), 'mcp-protocol-version': '2025-11-25' }, payload: list })
    if (res.statusCode !== 404) throw new Error(`bogus session ${res.statusCode}`)
  }
  for (let i = 0; i < 1000; i++) await sendBogus()
  const bogusBefore = await heap()
  for (let i = 0; i < n; i++) await sendBogus()
  const bogusGrowth = (await heap()) - bogusBefore
  lines.push(`Heap growth after ${n.toLocaleString('en')} requests with random session ids (all 404): **${Math.round(bogusGrowth / 1024)} KiB** (nothing is kept per unknown id).`)
  await bogus.close()

  const shared = { store: new MemorySessionStore(), events: new MemoryEventStore(), bus: new MemoryBus() }
  const A = await app(shared)
  const B = await app(shared)
  const m = smoke ? 200 : 1000
  const ids = []
  for (let i = 0; i < m; i++) {
    const res = await A.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json' }, payload: init })
    ids.push(res.headers['mcp-session-id'])
  }
  const first = []
  const second = []
  const time = async (sid) => {
    const t0 = process.hrtime.bigint()
    const res = await B.inject({ method: 'POST', url: '/mcp', headers: { accept: ACC, 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, payload: call })
    if (res.statusCode !== 200) throw new Error(`call ${res.statusCode}`)
    return Number(process.hrtime.bigint() - t0) / 1e6
  }
  for (const sid of ids) {
    first.push(await time(sid))
    second.push(await time(sid))
  }
  lines.push(`Rebuilding a session on another instance (first call there minus a later call, over ${m} sessions): median **${(median(first) - median(second)).toFixed(3)} ms**, p99 of first calls ${p99(first).toFixed(3)} ms vs ${p99(second).toFixed(3)} ms.`)
  await A.close()
  await B.close()
  return lines
}
