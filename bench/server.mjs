// One benchmark target per process: `node server.mjs <kind>` prints `PORT <n>` once listening.
// Every MCP target serves the same 50 tools (a trivial `echo` plus 49 others) and a `stream` tool
// that sends 10 progress notifications before its result.
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { z } from 'zod'

const kind = process.argv[2]
const TOOL_COUNT = 50

function listen (server) {
  server.listen(0, '127.0.0.1', () => { process.stdout.write(`PORT ${server.address().port}\n`) })
}

async function listenFastify (app) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`PORT ${app.server.address().port}\n`)
}

async function ours (variant) {
  const { default: fastifyMcp } = await import('@mcp-fastify/fastify-mcp')
  const app = Fastify({ logger: false })
  const options = {
    serverInfo: { name: 'bench', version: '1.0.0' },
    sessions: { maxSessions: 1_000_000, idleTimeoutMs: 60_000 },
    stateless: variant === 'stateless'
  }
  if (variant === 'jwt') {
    options.auth = {
      issuer: process.env.BENCH_ISSUER,
      audience: process.env.BENCH_AUDIENCE,
      jwks: { url: process.env.BENCH_JWKS_URL },
      resourceMetadata: { authorizationServers: [process.env.BENCH_ISSUER] }
    }
  }
  if (variant === 'redis') {
    const { createRedisBackend } = await import('@mcp-fastify/fastify-mcp/redis')
    const redis = createRedisBackend({ url: process.env.REDIS_URL, prefix: `bench:${randomUUID()}:` })
    options.sessions.store = redis.store
    options.eventStore = redis.eventStore
    options.bus = redis.bus
    app.addHook('onClose', redis.close)
  }
  await app.register(fastifyMcp, options)
  app.mcp.tool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), handler: ({ text }) => ({ content: [{ type: 'text', text }] }) })
  app.mcp.tool({
    name: 'stream',
    description: 'Ten progress notifications, then a result',
    handler: async (_args, ctx) => {
      for (let i = 1; i <= 10; i++) await ctx.progress(i, 10)
      return { content: [{ type: 'text', text: 'done' }] }
    }
  })
  for (let i = 2; i < TOOL_COUNT; i++) {
    app.mcp.tool({ name: `tool_${i}`, description: `Tool number ${i}`, input: z.object({ q: z.string(), n: z.number().optional() }), handler: () => ({ content: [{ type: 'text', text: 'x' }] }) })
  }
  await listenFastify(app)
}

/** Tools on an SDK v1 McpServer (used by the v1 and npm fastify-mcp peers). */
function v1Tools (McpServer) {
  const server = new McpServer({ name: 'bench', version: '1.0.0' })
  server.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }))
  server.registerTool('stream', { description: 'Ten progress notifications' }, async (_args, extra) => {
    const token = extra._meta?.progressToken
    for (let i = 1; i <= 10; i++) if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: 10 } })
    return { content: [{ type: 'text', text: 'done' }] }
  })
  for (let i = 2; i < TOOL_COUNT; i++) server.registerTool(`tool_${i}`, { description: `Tool number ${i}`, inputSchema: { q: z.string(), n: z.number().optional() } }, async () => ({ content: [{ type: 'text', text: 'x' }] }))
  return server
}

async function sdkV1 () {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js')
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js')
  const { isInitializeRequest } = await import('@modelcontextprotocol/sdk/types.js')
  const transports = new Map()
  const server = http.createServer(async (req, res) => {
    const chunks = []
    for await (const c of req) chunks.push(c)
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString()) : undefined
    const sid = req.headers['mcp-session-id']
    let transport = sid === undefined ? undefined : transports.get(sid)
    if (transport === undefined && req.method === 'POST' && isInitializeRequest(body)) {
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => { transports.set(id, transport) } })
      await v1Tools(McpServer).connect(transport)
    }
    if (transport === undefined) {
      res.writeHead(400).end()
      return
    }
    await transport.handleRequest(req, res, body)
  })
  listen(server)
}

async function sdkV2Fastify () {
  const { McpServer, WebStandardStreamableHTTPServerTransport, isInitializeRequest } = await import('@modelcontextprotocol/server')
  const transports = new Map()
  const app = Fastify({ logger: false })
  const make = () => {
    const server = new McpServer({ name: 'bench', version: '1.0.0' })
    server.registerTool('echo', { description: 'Echo', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: 'text', text }] }))
    server.registerTool('stream', { description: 'Ten progress notifications' }, async (ctx) => {
      for (let i = 1; i <= 10; i++) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: ctx.mcpReq._meta?.progressToken ?? 0, progress: i, total: 10 } })
      return { content: [{ type: 'text', text: 'done' }] }
    })
    for (let i = 2; i < TOOL_COUNT; i++) server.registerTool(`tool_${i}`, { description: `Tool number ${i}`, inputSchema: z.object({ q: z.string(), n: z.number().optional() }) }, async () => ({ content: [{ type: 'text', text: 'x' }] }))
    return server
  }
  app.all('/mcp', async (request, reply) => {
    const sid = request.headers['mcp-session-id']
    let transport = sid === undefined ? undefined : transports.get(sid)
    if (transport === undefined && request.method === 'POST' && isInitializeRequest(request.body)) {
      transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => { transports.set(id, transport) } })
      await make().connect(transport)
    }
    if (transport === undefined) return reply.code(400).send()
    const headers = new Headers()
    for (const [k, v] of Object.entries(request.headers)) if (typeof v === 'string') headers.set(k, v)
    const webRequest = new Request(`http://${request.headers.host}${request.url}`, { method: request.method, headers, body: request.method === 'POST' ? JSON.stringify(request.body) : undefined })
    const response = await transport.handleRequest(webRequest, { parsedBody: request.body })
    reply.code(response.status)
    response.headers.forEach((v, k) => reply.header(k, v))
    return reply.send(response.body === null ? '' : response.body)
  })
  await listenFastify(app)
}

/** The SDK v2 entry point for 2026-07-28 (`createMcpHandler`, a fresh server per request) mounted in Fastify. */
async function sdkV2Modern () {
  const { McpServer, createMcpHandler } = await import('@modelcontextprotocol/server')
  const make = () => {
    const server = new McpServer({ name: 'bench', version: '1.0.0' })
    server.registerTool('echo', { description: 'Echo', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: 'text', text }] }))
    for (let i = 2; i < TOOL_COUNT; i++) server.registerTool(`tool_${i}`, { description: `Tool number ${i}`, inputSchema: z.object({ q: z.string(), n: z.number().optional() }) }, async () => ({ content: [{ type: 'text', text: 'x' }] }))
    return server
  }
  const handler = createMcpHandler(make, { legacy: 'reject' })
  const app = Fastify({ logger: false })
  app.post('/mcp', async (request, reply) => {
    const headers = new Headers()
    for (const [k, v] of Object.entries(request.headers)) if (typeof v === 'string') headers.set(k, v)
    const response = await handler.fetch(new Request(`http://${request.headers.host}${request.url}`, { method: 'POST', headers }), { parsedBody: request.body })
    reply.code(response.status)
    response.headers.forEach((v, k) => reply.header(k, v))
    return reply.send(response.body === null ? '' : Buffer.from(await response.arrayBuffer()))
  })
  await listenFastify(app)
}

async function fastifyMcpNpm () {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js')
  const { streamableHttp, Sessions } = await import('fastify-mcp')
  const app = Fastify({ logger: false })
  await app.register(streamableHttp, { stateful: true, mcpEndpoint: '/mcp', sessions: new Sessions(), createServer: () => v1Tools(McpServer).server })
  await listenFastify(app)
}

async function bare () {
  const app = Fastify({ logger: false })
  app.post('/mcp', async (request) => ({ jsonrpc: '2.0', id: request.body.id, result: { content: [{ type: 'text', text: request.body.params?.arguments?.text ?? '' }] } }))
  await listenFastify(app)
}

const targets = {
  bare,
  ours: () => ours('plain'),
  'ours-jwt': () => ours('jwt'),
  'ours-stateless': () => ours('stateless'),
  'ours-redis': () => ours('redis'),
  'sdk-v1-node-http': sdkV1,
  'sdk-v2-fastify': sdkV2Fastify,
  'fastify-mcp-npm': fastifyMcpNpm,
  'sdk-v2-modern': sdkV2Modern
}

const target = targets[kind]
if (target === undefined) {
  process.stderr.write(`unknown target ${kind}; one of ${Object.keys(targets).join(', ')}\n`)
  process.exit(1)
}
await target()
process.on('SIGTERM', () => process.exit(0))
