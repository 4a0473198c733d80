import Fastify from 'fastify'
import { z } from 'zod'
import fastifyMcp from '@mcp-fastify/fastify-mcp'

export async function build () {
  const app = Fastify()
  await app.register(fastifyMcp, {
    serverInfo: { name: 'weather', version: '1.0.0' },
    sessions: { idleTimeoutMs: 10 * 60_000 }
  })
  app.mcp.tool({
    name: 'forecast',
    description: "Tomorrow's forecast for a city",
    input: z.object({ city: z.string().min(1) }),
    output: z.object({ city: z.string(), summary: z.string() }),
    handler: async ({ city }, ctx) => {
      await ctx.progress(1, 1, 'looked up')
      return { structuredContent: { city, summary: 'sunny' } }
    }
  })
  return app
}
