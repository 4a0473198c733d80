import type { McpCaller } from '../registry/types.js'

/** Verifies an access token and returns the caller; throws {@link TokenError} when the token is not acceptable. */
export interface TokenVerifier {
  verify: (token: string) => Promise<McpCaller>
  close?: () => Promise<void>
}

/** A refused token (401 invalid_token), or a verifier that cannot decide now (503). */
export class TokenError extends Error {
  readonly unavailable: boolean
  constructor (message: string, options: { unavailable?: boolean, cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'TokenError'
    this.unavailable = options.unavailable === true
  }
}

export interface AuthOptions {
  /** Expected `iss`. Required for JWT verification. */
  issuer?: string
  /** Expected `aud` (RFC 8707): the canonical URL of this MCP endpoint. Required for JWT verification. */
  audience?: string
  /** Remote JWKS (https, or http on a loopback host). */
  jwks?: { url: string, timeoutMs?: number, cooldownMs?: number, cacheMaxAgeMs?: number }
  /** Static public keys: PEM strings (SPKI or X.509) or JWKs. */
  publicKeys?: Array<string | Record<string, unknown>>
  /** An HS256 shared secret (development only; a warning is logged). */
  hs256Secret?: string
  /** Accepted JWS algorithms. Default: ES256, ES384, RS256, PS256, EdDSA (and HS256 only with a secret). */
  algorithms?: string[]
  /** Clock tolerance for exp/nbf, seconds. Default 5. */
  clockToleranceSec?: number
  /** Maps verified claims to scopes. Default: `scope` (space-delimited) or `scp` (array). */
  scopes?: (claims: Record<string, unknown>) => string[]
  /** A custom verifier (e.g. {@link introspectionVerifier}); replaces the JWT options. */
  verifier?: TokenVerifier
  /** RFC 9728 metadata. `authorizationServers` is required. */
  resourceMetadata: {
    authorizationServers: string[]
    /** The protected resource identifier. Default: `audience`. */
    resource?: string
    resourceDocumentation?: string
  }
  /** Scopes a client needs to start (the `scope` of 401 challenges). Default: none listed. */
  baselineScopes?: string[]
  /** `realm` of challenges. Default: `mcp`. */
  realm?: string
  /** Verified tokens cached until expiry (bounded count). Default 10,000; 0 disables. */
  cacheSize?: number
}
