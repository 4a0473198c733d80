import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url))
export const SECRET = 'process-test-secret-that-is-long-enough-0123'

export interface Instance { child: ChildProcess, url: string, stdout: () => string, stderr: () => string, exited: Promise<number | null> }

/** Starts `compliance-server serve` as its own process; resolves once it listens. A variable given as '' is left unset. */
export async function startInstance (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string>, o: { node?: string } = {}): Promise<Instance> {
  const merged: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, MCP_PUBLIC_URL: 'http://127.0.0.1/mcp', PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', RATE_LIMIT_MAX: '1000000', ...env }
  for (const [k, v] of Object.entries(merged)) if (v === '') delete merged[k]
  const child = spawn(o.node ?? process.execPath, [MAIN, 'serve'], { env: merged })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code) }) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`instance did not start: ${err}`)) }, 60_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(`${m[1] as string}/mcp`) }
    })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`instance exited ${String(code)}: ${err}`)) })
  })
  return { child, url, stdout: () => out, stderr: () => err, exited }
}

export async function token (sub: string, scopes: string[]): Promise<string> {
  return await new SignJWT({ scope: scopes.join(' '), client_id: 'tests' })
    .setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setAudience('http://127.0.0.1/mcp').setSubject(sub).setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET))
}

/** A bare JSON-RPC client on one session (stateful 2025-11-25). */
export class RpcSession {
  readonly url: string
  readonly token: string
  sid = ''
  #id = 0

  constructor (url: string, tk: string) {
    this.url = url
    this.token = tk
  }

  async #post (body: unknown): Promise<Response> {
    return await fetch(this.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25', ...(this.sid === '' ? {} : { 'mcp-session-id': this.sid }) },
      body: JSON.stringify(body)
    })
  }

  async open (): Promise<void> {
    const res = await this.#post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
    this.sid = res.headers.get('mcp-session-id') as string
    await res.text()
    await (await this.#post({ jsonrpc: '2.0', method: 'notifications/initialized' })).text()
  }

  /** Calls a tool; resolves with the structured result, or rejects with the error text. */
  async call (name: string, args: Record<string, unknown>): Promise<Record<string, unknown> & { audit: { requestId: string } }> {
    const res = await this.#post({ jsonrpc: '2.0', id: ++this.#id, method: 'tools/call', params: { name, arguments: args } })
    const text = await res.text()
    const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}')
    const msg = JSON.parse(json) as { result?: { isError?: boolean, structuredContent?: Record<string, unknown>, content?: Array<{ text: string }> }, error?: { message: string } }
    if (msg.error !== undefined) throw new Error(msg.error.message)
    if (msg.result?.isError === true || msg.result?.structuredContent === undefined) throw new Error(msg.result?.content?.[0]?.text ?? `HTTP ${res.status}`)
    return msg.result.structuredContent as Record<string, unknown> & { audit: { requestId: string } }
  }
}
