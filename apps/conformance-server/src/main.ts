#!/usr/bin/env node
import { buildServer } from './server.js'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 3001)
const app = await buildServer({ logger: process.env.LOG_LEVEL !== 'silent' })
await app.listen({ host, port })
const shutdown = (): void => { app.close().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
