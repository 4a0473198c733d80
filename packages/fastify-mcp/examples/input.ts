import Fastify from 'fastify'
import { z } from 'zod'
import fastifyMcp from '@mcp-fastify/fastify-mcp'

export async function build () {
  const app = Fastify()
  await app.register(fastifyMcp, { serverInfo: { name: 'payments', version: '1.0.0' } })
  app.mcp.tool({
    name: 'refund',
    description: 'Refunds an order after the user confirms',
    input: z.object({ order: z.string() }),
    handler: async ({ order }, ctx) => {
      // 2025 session: an elicitation/create request on this call's stream.
      // 2026-07-28: an input_required result; the handler runs again with the answer.
      const answer = await ctx.elicit({
        mode: 'form',
        message: `Refund order ${order}?`,
        requestedSchema: { type: 'object', properties: { confirm: { type: 'boolean' } }, required: ['confirm'] }
      }, { key: 'confirm' })
      const done = answer.action === 'accept' && answer.content?.confirm === true
      return { content: [{ type: 'text', text: done ? `refunded ${order}` : `kept ${order}` }] }
    }
  })
  return app
}
