import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import canonicalize from 'canonicalize'

/** The hash the first record chains to. */
export const GENESIS = '0'.repeat(64)
/** The line format of the records store: the hash covers every key of the line but `hash`. */
export const LINE_VERSION = 2

export interface ChainLine { v: 2, seq: number, prevHash: string, hash: string, record: Record<string, unknown> }
export interface Checkpoint { seq: number, hash: string, at: string, keyId: string, signature: string }

export function canonical (value: unknown): string {
  return canonicalize(value) as string
}

/** `sha256(JCS(line without hash))`. */
export function hashLine (line: Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = line
  return createHash('sha256').update(canonical(rest)).digest('hex')
}

/** The v2 hash of a stored row (`record` is the canonical JSON text that was hashed). */
export function hashRow (seq: number, prevHash: string, recordText: string): string {
  return createHash('sha256').update(`{"prevHash":${JSON.stringify(prevHash)},"record":${recordText},"seq":${seq},"v":${LINE_VERSION}}`).digest('hex')
}

const FORBIDDEN_KEYS = /^(token|access_token|refresh_token|id_token|authorization|bearer|cookie)$/i

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Drops credential-looking keys (a refusal or an argument may carry one: the log never holds token
 * material) and replaces lone surrogates with U+FFFD (JCS refuses them; malformed input is still
 * recorded, not a failed append).
 */
export function withoutSecrets (value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\uFFFD')
  if (Array.isArray(value)) return value.map(withoutSecrets)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[withoutSecrets(k) as string] = FORBIDDEN_KEYS.test(k) ? '[redacted]' : withoutSecrets(v)
  return out
}

/** The checkpoint signing key (Ed25519, PKCS#8 PEM): read, or generated (mode 0600) when absent. */
export class SigningKey {
  readonly keyId: string
  readonly publicKey: KeyObject
  readonly #privateKey: KeyObject | null

  constructor (publicKey: KeyObject, privateKey: KeyObject | null) {
    this.publicKey = publicKey
    this.#privateKey = privateKey
    this.keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
  }

  static async load (file: string, create = true): Promise<SigningKey> {
    let pem: string
    try {
      pem = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw new Error(`cannot read the audit signing key ${file}: ${(err as Error).message}`)
      const { privateKey } = generateKeyPairSync('ed25519')
      pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => { if (e.code === 'EEXIST') pem = await readFile(file, 'utf8'); else throw e })
      await chmod(file, 0o600).catch(() => {})
      const pub = createPublicKey(pem).export({ type: 'spki', format: 'pem' }) as string
      await writeFile(`${file}.pub`, pub).catch(() => {})
    }
    if (pem.includes('PUBLIC KEY')) return new SigningKey(createPublicKey(pem), null)
    const priv = createPrivateKey(pem)
    return new SigningKey(createPublicKey(priv), priv)
  }

  sign (seq: number, hash: string, at: string): Checkpoint {
    if (this.#privateKey === null) throw new Error('the audit signing key file holds only a public key')
    const signature = sign(null, Buffer.from(canonical({ seq, hash, at })), this.#privateKey).toString('base64')
    return { seq, hash, at, keyId: this.keyId, signature }
  }

  verify (c: Checkpoint): boolean {
    try {
      return verify(null, Buffer.from(canonical({ seq: c.seq, hash: c.hash, at: c.at })), this.publicKey, Buffer.from(c.signature, 'base64'))
    } catch {
      return false
    }
  }
}
