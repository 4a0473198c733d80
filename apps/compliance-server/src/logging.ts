import { pino } from 'pino'
import PinoPretty from 'pino-pretty'
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'

export type LogFormat = 'json' | 'pretty'

export interface LoggerOptions {
  level: string
  format: LogFormat
  /** Where pretty lines go (default: stderr, beside the development banner). */
  destination?: NodeJS.WritableStream
}

const REDACT = ['req.headers.authorization', 'req.headers.cookie']

/**
 * The service's logger. JSON goes to stdout (for collectors); the pretty console is written
 * synchronously to stderr, so lines come out in program order and the banner printed after
 * `listen` is the last thing a person sees.
 */
export function createLogger (o: LoggerOptions): FastifyBaseLogger {
  if (o.format === 'json') return pino({ level: o.level, redact: REDACT })
  const pretty = PinoPretty({
    sync: true,
    destination: o.destination ?? process.stderr,
    colorize: o.destination === undefined && process.stderr.isTTY,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,reqId,res,responseTime'
  })
  return pino({ level: o.level, redact: REDACT }, pretty)
}

/**
 * One line per request instead of Fastify's two ("incoming request" and "request completed"):
 * `POST /mcp 200 3.1 ms`, with the status and time as fields for JSON.
 */
export class OneLineLogController extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    const responseTime = reply.elapsedTime
    const line = `${request.method} ${request.url} ${reply.statusCode} ${responseTime.toFixed(1)} ms`
    if (error !== null && error !== undefined) reply.log.error({ res: reply, err: error, responseTime }, line)
    else reply.log.info({ res: reply, responseTime }, line)
  }
}
