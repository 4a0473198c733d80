import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { exportJWK, generateKeyPair } from 'jose'

export interface SigningKeys { keys: Array<Record<string, unknown>> }

async function newKey (): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { ...await exportJWK(privateKey), kid: crypto.randomUUID(), alg: 'ES256', use: 'sig' }
}

async function save (file: string, jwks: SigningKeys): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 })
  await rename(tmp, file)
}

/** The authorization server's private signing keys (a JWKS file, mode 0600), made on first use. The first key signs. */
export async function loadSigningKeys (file: string): Promise<SigningKeys> {
  try {
    const jwks = JSON.parse(await readFile(file, 'utf8')) as SigningKeys
    if (Array.isArray(jwks.keys) && jwks.keys.length > 0) return jwks
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const jwks = { keys: [await newKey()] }
  await save(file, jwks)
  return jwks
}

/**
 * Puts a new key first (it signs from the next start) and keeps `keep` older ones so that tokens
 * they signed still verify until they expire.
 */
export async function rotateSigningKeys (file: string, keep = 1): Promise<SigningKeys> {
  const current = await loadSigningKeys(file)
  const jwks = { keys: [await newKey(), ...current.keys.slice(0, keep)] }
  await save(file, jwks)
  return jwks
}
