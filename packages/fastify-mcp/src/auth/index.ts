import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { FST_MCP_FORBIDDEN, FST_MCP_OPTIONS, FST_MCP_UNAUTHORIZED, FST_MCP_UNAVAILABLE } from '../errors.js'
import type { McpRegistry } from '../registry/registry.js'
import { TokenError, type AuthOptions, type TokenVerifier } from './types.js'
import { canonicalResource, jwtVerifier, TokenCache } from './verifiers.js'

export interface AuthSetup {
  /**
   * Verifies the bearer token and sets `request.mcpAuth`; throws the 401. Returns null when it is done
   * (a token verified before is answered from the cache without a promise), else the pending verification.
   */
  authenticate: (request: FastifyRequest) => Promise<void> | null
  scopeCheck: (request: FastifyRequest, method: string, params: unknown) => void
  close: () => Promise<void>
}

function quote (value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/** The RFC 9728 metadata URL of a resource: the well-known path inserted before the resource's path. */
export function resourceMetadataUrl (resource: string): string {
  const u = new URL(resource)
  const path = u.pathname === '/' ? '' : u.pathname
  return `${u.origin}/.well-known/oauth-protected-resource${path}`
}

const MetadataSchema = z.object({
  resource: z.string(),
  authorization_servers: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  bearer_methods_supported: z.array(z.string()),
  resource_documentation: z.string().optional()
})

function errorWithHeaders<E extends Error> (err: E, headers: Record<string, string>): E {
  return Object.assign(err, { headers })
}

/**
 * Wires bearer authentication: the verifier, the `onRequest` hook for the MCP routes, the scope check
 * used before dispatch, and the unauthenticated RFC 9728 metadata routes.
 */
export async function setupAuth (app: FastifyInstance, o: AuthOptions, registry: McpRegistry, guard: (request: FastifyRequest) => void): Promise<AuthSetup> {
  const authServers = o.resourceMetadata?.authorizationServers
  if (!Array.isArray(authServers) || authServers.length === 0) throw new FST_MCP_OPTIONS('auth.resourceMetadata.authorizationServers must list at least one authorization server')
  const resourceRaw = o.resourceMetadata.resource ?? o.audience
  if (resourceRaw === undefined) throw new FST_MCP_OPTIONS('auth.resourceMetadata.resource (or auth.audience) is required')
  const resource = canonicalResource(resourceRaw)
  const metadataUrl = resourceMetadataUrl(resource)
  const realm = o.realm ?? 'mcp'
  const baseline = o.baselineScopes ?? []
  const verifier: TokenVerifier = o.verifier ?? jwtVerifier(o, (msg) => { app.log.warn(msg) })
  const cache = new TokenCache(o.cacheSize ?? 10_000)

  function challenge (params: { error?: string, description?: string, scope?: string[] }): string {
    const parts = [`realm=${quote(realm)}`]
    if (params.error !== undefined) parts.push(`error=${quote(params.error)}`)
    if (params.description !== undefined) parts.push(`error_description=${quote(params.description)}`)
    parts.push(`resource_metadata=${quote(metadataUrl)}`)
    const scope = params.scope ?? baseline
    if (scope.length > 0) parts.push(`scope=${quote(scope.join(' '))}`)
    return `Bearer ${parts.join(', ')}`
  }

  function unauthorized (description: string, error?: string): Error {
    return errorWithHeaders(new FST_MCP_UNAUTHORIZED(description), {
      'www-authenticate': challenge(error === undefined ? { description } : { error, description })
    })
  }

  function authenticate (request: FastifyRequest): Promise<void> | null {
    if (request.method === 'OPTIONS') return null
    const header = request.headers.authorization
    if (header === undefined || header === '') {
      const inQuery = typeof request.query === 'object' && request.query !== null && 'access_token' in request.query
      throw unauthorized(inQuery ? 'tokens are accepted only in the Authorization header' : 'a bearer token is required')
    }
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)
    if (m === null) {
      if (/^bearer\b/i.test(header)) throw unauthorized('the bearer token is malformed', 'invalid_token')
      throw unauthorized('only the Bearer scheme is accepted')
    }
    const token = m[1] as string
    const key = cache.key(token)
    const hit = cache.get(key)
    if (hit !== undefined) {
      request.mcpAuth = hit
      return null
    }
    return verifier.verify(token).then((caller) => {
      cache.set(key, caller)
      request.mcpAuth = caller
    }, (err: unknown) => {
      if (err instanceof TokenError && err.unavailable) {
        request.log.warn({ err: { message: err.message } }, 'mcp: token verification unavailable')
        throw new FST_MCP_UNAVAILABLE('the token cannot be verified right now')
      }
      throw unauthorized(err instanceof TokenError ? err.message : 'the token is invalid', 'invalid_token')
    })
  }

  function scopeCheck (request: FastifyRequest, method: string, params: unknown): void {
    const need = registry.requiredScopes(method, params)
    const caller = request.mcpAuth
    if (need === null || caller === null) return
    const missing = need.scopes.filter((s) => !caller.scopes.includes(s))
    if (missing.length === 0) return
    request.log.info({ subject: caller.subject, target: need.target, missing }, 'mcp: insufficient scope')
    const rpcId = (request.body as { id?: unknown } | null)?.id
    throw Object.assign(errorWithHeaders(new FST_MCP_FORBIDDEN(`insufficient scope for ${need.target}: requires ${need.scopes.join(' ')}`), {
      'www-authenticate': challenge({ error: 'insufficient_scope', description: `${need.target} requires ${need.scopes.join(' ')}`, scope: need.scopes })
    }), rpcId === undefined ? {} : { rpcId })
  }

  await app.register(async function oauthProtectedResource (child) {
    child.setValidatorCompiler(validatorCompiler)
    child.setSerializerCompiler(serializerCompiler)
    // The same Host/Origin rule as the MCP routes, although the document is public.
    child.addHook('onRequest', function mcpMetadataGuard (request, _reply, done) {
      try {
        guard(request)
        done()
      } catch (err) {
        done(err as Error)
      }
    })
    const route = child.withTypeProvider<ZodTypeProvider>()
    const metadata = (): z.infer<typeof MetadataSchema> => {
      const doc: z.infer<typeof MetadataSchema> = {
        resource,
        authorization_servers: authServers,
        scopes_supported: registry.allScopes(),
        bearer_methods_supported: ['header']
      }
      if (o.resourceMetadata.resourceDocumentation !== undefined) doc.resource_documentation = o.resourceMetadata.resourceDocumentation
      return doc
    }
    const path = new URL(resource).pathname
    const urls = new Set(['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${path === '/' ? '' : path}`])
    for (const url of urls) {
      route.get(url, { schema: { response: { 200: MetadataSchema } } }, async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300')
        return metadata()
      })
    }
  })

  return { authenticate, scopeCheck, close: async () => { await verifier.close?.() } }
}

/**
 * A preHandler for any route of the app: 401 without a valid token (when the MCP auth hook did not run
 * on that route, it verifies the token itself), 403 with an `insufficient_scope` challenge when a scope is missing.
 *
 * @example
 * app.get('/admin/sessions', { preHandler: requireScopes('admin') }, handler)
 */
export function requireScopes (...scopes: string[]): preHandlerAsyncHookHandler {
  return async function mcpRequireScopes (this: FastifyInstance, request: FastifyRequest) {
    if (request.mcpAuth === null) await this.mcp.authenticate(request)
    const caller = request.mcpAuth
    const missing = scopes.filter((s) => caller === null || !caller.scopes.includes(s))
    if (missing.length > 0) {
      throw errorWithHeaders(new FST_MCP_FORBIDDEN(`insufficient scope: requires ${scopes.join(' ')}`), {
        'www-authenticate': `Bearer error="insufficient_scope", scope=${quote(scopes.join(' '))}`
      })
    }
  }
}
