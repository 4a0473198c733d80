import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { buildApp } from '../src/app.js'
import { ALL_SCOPES, setupAuth } from '../src/auth.js'
import { loadConfig } from '../src/config.js'
import { createServices } from '../src/services.js'

const SECRET = 'test-secret-that-is-long-enough-0123456789'

/** Every `type` keyword anywhere in a JSON Schema. */
function types (schema: unknown, path = '$', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (Array.isArray(schema)) schema.forEach((x, i) => types(x, `${path}[${i}]`, out))
  else if (schema !== null && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'type') out.push([path, v])
      types(v, `${path}.${k}`, out)
    }
  }
  return out
}

t.test('no output schema uses a ["string","null"] union; an absent client id is omitted from the stamp', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'os-'))
  const config = loadConfig({ AUTH_ISSUER: 'https://issuer.test', AUTH_HS256_SECRET: SECRET, DATA_DIR: dir, MCP_PUBLIC_URL: 'http://127.0.0.1/mcp' })
  const services = await createServices(config)
  const { auth } = await setupAuth(config)
  const app = await buildApp({ config, auth, services, logger: false })
  t.teardown(async () => { await app.close(); await services.records.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/mcp`
  // No client_id claim: the caller has no client id.
  const token = await new SignJWT({ scope: ALL_SCOPES.join(' ') }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test')
    .setAudience('http://127.0.0.1/mcp').setSubject('analyst-2').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(SECRET))
  const client = new Client({ name: 'tests', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  t.teardown(async () => { await client.close() })

  const tools = (await client.listTools()).tools
  t.equal(tools.length, 14)
  for (const tool of tools) {
    const unions = types(tool.outputSchema).filter(([, v]) => Array.isArray(v) && (v as unknown[]).includes('null'))
    t.same(unions, [], `${tool.name}: no null unions`)
    const caller = (tool.outputSchema as unknown as { properties: { audit: { properties: { caller: { properties: Record<string, unknown>, required: string[] } } } } }).properties.audit.properties.caller
    t.same(caller.required.sort(), ['scopes', 'subject'], `${tool.name}: clientId and issuer are optional`)
  }
  const r = await client.callTool({ name: 'country_risk', arguments: { country: 'FR' } })
  const stamp = (r.structuredContent as { audit: { caller: Record<string, unknown> } }).audit.caller
  t.equal(stamp.subject, 'analyst-2')
  t.notOk('clientId' in stamp, 'clientId omitted, not null')
  t.equal(stamp.issuer, 'https://issuer.test')
})
