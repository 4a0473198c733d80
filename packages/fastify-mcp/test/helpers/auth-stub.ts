import { TokenError, type AuthOptions } from '../../src/index.js'

/** Auth with a test verifier: `tok-<subject>` verifies as that subject, anything else is a bad signature. */
export function testAuth (): AuthOptions {
  return {
    verifier: {
      verify: async (token) => {
        const m = /^tok-([a-z0-9]+)$/.exec(token)
        if (m === null) throw new TokenError('signature verification failed')
        return { subject: m[1] as string, clientId: null, issuer: 'https://idp.test', scopes: [], tokenId: null, expiresAt: null, claims: { sub: m[1] } }
      }
    },
    resourceMetadata: { authorizationServers: ['https://idp.test'], resource: 'http://127.0.0.1/mcp' },
    cacheSize: 0
  }
}

export const bearer = (subject: string): Record<string, string> => ({ authorization: `Bearer tok-${subject}` })
