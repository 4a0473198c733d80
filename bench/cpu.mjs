// Server CPU per request: the target's own CPU time (from /proc/<pid>/stat, Linux) over an autocannon
// run, divided by the requests answered. Unlike req/s, this does not depend on how fast the load
// generator is on the same cores, so it shows small changes. Used while optimizing; not part of CI.
//   node cpu.mjs <target> [session|modern|bare] [seconds]     (targets: see server.mjs)
//   e.g. node cpu.mjs bare bare && node cpu.mjs ours session && REDIS_URL=redis://127.0.0.1:6379 node cpu.mjs ours-redis session
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const [target = 'ours', scenario = 'session', seconds = '4'] = process.argv.slice(2)
const here = fileURLToPath(new URL('.', import.meta.url))
const ACC = 'application/json, text/event-stream'
const child = spawn(process.execPath, [`${here}server.mjs`, target], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve, reject) => {
  child.stdout.on('data', (d) => { const m = /PORT (\d+)/.exec(String(d)); if (m !== null) resolve(m[1]) })
  child.on('exit', () => { reject(new Error(`${target} did not start`)) })
})
const url = `http://127.0.0.1:${port}/mcp`
const ticks = () => {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime + stime, in clock ticks (100 per second)
}
const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } }
let headers = { accept: ACC, 'content-type': 'application/json' }
if (scenario === 'modern') {
  headers = { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }
  call.params._meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }
} else if (scenario === 'session') {
  const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cpu', version: '1' } } }) })
  await init.text()
  headers = { ...headers, 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': init.headers.get('mcp-session-id') }
}
const body = JSON.stringify(call)
await autocannon({ url, method: 'POST', connections: 50, duration: 1, headers, body }) // warm-up
const before = ticks()
const r = await autocannon({ url, method: 'POST', connections: 50, duration: Number(seconds), headers, body })
const micros = (ticks() - before) * 10_000
process.stdout.write(`${target} ${scenario}: ${(micros / r.requests.total).toFixed(1)} µs of server CPU per request (${Math.round(r.requests.average)} req/s, ${r.non2xx} non-2xx)\n`)
child.kill()
