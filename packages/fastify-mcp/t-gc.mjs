import { McpRegistry } from './dist/index.js'
import { z } from 'zod'
const r = new McpRegistry()
r.tool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }), handler: ({ text }) => ({ content: [{ type: 'text', text }] }) })
r.tool({ name: 'plain', description: 'Echo', handler: () => ({ content: [{ type: 'text', text: 'x' }] }) })
const ctx = { caller: null, session: null }
const name = process.argv[2]
const t0 = performance.now()
const N = 200000
let pending = []
for (let i = 0; i < N; i++) { pending.push(r.callTool(name, { text: 'hello' }, ctx, false)); if (pending.length >= 50) { await Promise.all(pending); pending = [] } }
console.log(name, ((performance.now() - t0) * 1000 / N).toFixed(2), 'us/call')
