import Fastify from 'fastify'
import { z } from 'zod'
import fastifyMcp from '@mcp-fastify/fastify-mcp'

export async function build (options: { issuer: string, jwksUrl: string, publicUrl: string }) {
  const app = Fastify({ logger: { redact: ['req.headers.authorization'] } })
  await app.register(fastifyMcp, {
    serverInfo: { name: 'ledger', version: '1.0.0' },
    allowedHosts: [new URL(options.publicUrl).host],
    auth: {
      issuer: options.issuer,
      audience: options.publicUrl,
      jwks: { url: options.jwksUrl },
      resourceMetadata: { authorizationServers: [options.issuer] }
    },
    rateLimit: { max: 600, timeWindow: '1 minute' }
  })
  app.mcp.tool({
    name: 'balance',
    description: 'The balance of an account',
    input: z.object({ account: z.string() }),
    scopes: ['ledger:read'],
    handler: ({ account }, ctx) => ({
      content: [{ type: 'text', text: `${account}: 100.00 (asked by ${ctx.caller?.subject})` }]
    })
  })
  return app
}
