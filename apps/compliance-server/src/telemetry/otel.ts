import type { FastifyPluginCallback } from 'fastify'
import { ConfigError } from '../config.js'

/** The OpenTelemetry SDK of the process, when the standard `OTEL_*` variables ask for an exporter. */
export interface Otel {
  /** `@fastify/otel`'s plugin: one span per HTTP request, registered first on the app. */
  fastifyPlugin: FastifyPluginCallback
  /** Flushes and stops the exporters (at shutdown, after the app closed). */
  shutdown: () => Promise<void>
}

const MIN_NODE: [number, number] = [22, 15]

/** True when the environment asks for traces or metrics to be exported (OTLP endpoint or an explicit exporter). */
export function otelWanted (env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false
  const exporter = (name: string | undefined): boolean => name !== undefined && name !== '' && name !== 'none'
  return [env.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT].some((v) => v !== undefined && v !== '') ||
    exporter(env.OTEL_TRACES_EXPORTER) || exporter(env.OTEL_METRICS_EXPORTER)
}

/**
 * Starts the OpenTelemetry Node SDK, configured by the standard variables (`OTEL_EXPORTER_OTLP_*`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, …), with `@fastify/otel`
 * for the HTTP layer; the plugin's MCP spans and metrics go through the same providers. Null when
 * nothing asks for it: the SDK is then never loaded. Current SDK releases need Node ≥ 22.15.
 */
export async function startOtel (env: NodeJS.ProcessEnv = process.env, version = process.versions.node): Promise<Otel | null> {
  if (!otelWanted(env)) return null
  const [major = 0, minor = 0] = version.split('.').map(Number)
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    throw new ConfigError(`OTEL_* asks for telemetry export, and the OpenTelemetry SDK needs Node ≥ ${MIN_NODE.join('.')} (this is Node ${version}): run the service on Node 22 or 24, or unset the OTEL_* variables`)
  }
  const [{ NodeSDK }, { FastifyOtelInstrumentation }] = await Promise.all([import('@opentelemetry/sdk-node'), import('@fastify/otel')])
  const fastify = new FastifyOtelInstrumentation({ ignorePaths: (o) => o.url === '/health' || o.url === '/ready' })
  const sdk = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? 'compliance-server', instrumentations: [fastify] })
  sdk.start()
  return { fastifyPlugin: fastify.plugin() as unknown as FastifyPluginCallback, shutdown: async () => { await sdk.shutdown() } }
}
