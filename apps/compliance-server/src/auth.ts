import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { AuthOptions } from '@mcp-fastify/fastify-mcp'
import { ConfigError, type Config } from './config.js'

/** Every scope the service's tools declare. */
export const ALL_SCOPES = [
  'sanctions:screen',
  'sanctions:read',
  'risk:read',
  'identifiers:validate',
  'alerts:triage',
  'alerts:decide',
  'alerts:approve',
  'cases:write',
  'cases:read'
] as const

export interface AuthSetup {
  auth: AuthOptions
  /** Development mode only: a ready token with every scope. */
  devToken: string | null
}

function readFile (variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`invalid ${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/** Reads a PEM key file; a file that is not a PEM key of that kind is a configuration error naming the variable. */
function readKey (variable: string, file: string, kind: 'public' | 'private'): { pem: string, key: KeyObject } {
  const pem = readFile(variable, file)
  try {
    return { pem, key: kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem) }
  } catch {
    throw new ConfigError(`invalid ${variable}: ${file} is not a PEM ${kind} key (expected a "-----BEGIN ${kind === 'public' ? 'PUBLIC' : 'PRIVATE'} KEY-----" block)`)
  }
}

/** The plugin's auth options for AUTH_MODE=external, or a development key pair and token (AUTH_MODE=dev); builtin is in ./oauth. */
export async function setupAuth (config: Config): Promise<AuthSetup> {
  const resourceMetadata = (issuer: string): AuthOptions['resourceMetadata'] => ({
    authorizationServers: config.AUTH_AUTHORIZATION_SERVERS ?? [issuer],
    resource: config.publicUrl,
    resourceDocumentation: 'https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization'
  })
  const audience = config.AUTH_AUDIENCE ?? config.publicUrl
  if (config.authMode === 'external') {
    const issuer = config.AUTH_ISSUER as string
    const base = { issuer, audience, resourceMetadata: resourceMetadata(issuer) }
    if (config.AUTH_JWKS_URL !== undefined) return { auth: { ...base, jwks: { url: config.AUTH_JWKS_URL } }, devToken: null }
    if (config.AUTH_PUBLIC_KEY_FILE !== undefined) return { auth: { ...base, publicKeys: [readKey('AUTH_PUBLIC_KEY_FILE', config.AUTH_PUBLIC_KEY_FILE, 'public').pem] }, devToken: null }
    return { auth: { ...base, hs256Secret: config.AUTH_HS256_SECRET as string }, devToken: null }
  }
  const issuer = `${new URL(config.publicUrl).origin}/dev-issuer`
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...await exportJWK(publicKey), kid: 'dev', alg: 'ES256' }
  const devToken = await sign(privateKey, 'ES256', { issuer, audience, subject: 'developer', scopes: [...ALL_SCOPES], ttl: '12h', clientId: 'dev-client' }, 'dev')
  return { auth: { issuer, audience, publicKeys: [jwk], resourceMetadata: resourceMetadata(issuer) }, devToken }
}

export interface MintOptions { issuer: string, audience: string, subject: string, scopes: string[], ttl: string, clientId?: string | undefined }

async function sign (key: Parameters<SignJWT['sign']>[0], alg: string, o: MintOptions, kid?: string): Promise<string> {
  const claims: Record<string, unknown> = { scope: o.scopes.join(' ') }
  if (o.clientId !== undefined) claims.client_id = o.clientId
  return await new SignJWT(claims)
    .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setSubject(o.subject)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(o.ttl)
    .sign(key)
}

/** Signs a token with the configured key material (AUTH_HS256_SECRET or AUTH_PRIVATE_KEY_FILE). */
export async function mintToken (config: Config, o: Omit<MintOptions, 'issuer' | 'audience'> & { audience?: string | undefined }): Promise<string> {
  const issuer = config.AUTH_ISSUER
  if (issuer === undefined) throw new ConfigError('invalid AUTH_ISSUER: mint-token needs AUTH_ISSUER')
  const audience = o.audience ?? config.AUTH_AUDIENCE ?? config.publicUrl
  if (config.AUTH_HS256_SECRET !== undefined) {
    return await sign(new TextEncoder().encode(config.AUTH_HS256_SECRET), 'HS256', { ...o, issuer, audience })
  }
  if (config.AUTH_PRIVATE_KEY_FILE === undefined) throw new ConfigError('invalid AUTH_PRIVATE_KEY_FILE: mint-token needs AUTH_HS256_SECRET or AUTH_PRIVATE_KEY_FILE')
  const { key } = readKey('AUTH_PRIVATE_KEY_FILE', config.AUTH_PRIVATE_KEY_FILE, 'private')
  const alg = key.asymmetricKeyType === 'ec' ? 'ES256' : key.asymmetricKeyType === 'rsa' ? 'RS256' : key.asymmetricKeyType === 'ed25519' ? 'EdDSA' : null
  if (alg === null) throw new ConfigError(`invalid AUTH_PRIVATE_KEY_FILE: unsupported key type ${String(key.asymmetricKeyType)}`)
  return await sign(key, alg, { ...o, issuer, audience })
}
