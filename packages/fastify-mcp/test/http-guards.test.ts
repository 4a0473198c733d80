import t from 'tap'
import { buildApp, initBody } from './helpers/http.js'
import { post, rpcError } from './helpers/inject.js'

// DNS-rebinding guards: Host and Origin.

t.test('guards: Host and Origin (DNS rebinding)', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const badOrigin = await post(app, initBody(), { origin: 'http://evil.example' })
  t.equal(badOrigin.statusCode, 403)
  t.notOk('id' in JSON.parse(badOrigin.body), 'error body has no id')
  t.equal(rpcError(badOrigin).code, -32000)
  const badHost = await post(app, initBody(), { host: 'evil.example.com' })
  t.equal(badHost.statusCode, 403)
  t.equal((await post(app, initBody(), { origin: 'http://localhost:6274' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: '[::1]:3000' })).statusCode, 200)
  t.equal((await post(app, initBody(), { origin: 'null' })).statusCode, 403)
})

t.test('guards: allowlists replace the loopback defaults', async (t) => {
  const app = await buildApp({ allowedHosts: ['mcp.example.com'], allowedOrigins: ['https://app.example.com'] })
  t.teardown(() => app.close())
  t.equal((await post(app, initBody(), { host: 'mcp.example.com' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: 'localhost' })).statusCode, 403)
  t.equal((await post(app, initBody(), { host: 'mcp.example.com', origin: 'https://app.example.com' })).statusCode, 200)
  t.equal((await post(app, initBody(), { host: 'mcp.example.com', origin: 'https://other.example.com' })).statusCode, 403)
})
