import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { exportJWK, generateKeyPair } from 'jose'

export interface SigningKeys { keys: Array<Record<string, unknown>> }

/**
 * The authorization server's keys, rotated in stages so that every instance publishes a key before
 * any instance signs with it: `active` signs, `next` is published (it signs after the next rotation),
 * `retired` keys are published until the tokens they signed have expired. `secret` is the stable
 * secret from which the CSRF, cookie and introspection secrets are derived (rotation keeps it).
 */
export type KeyState = 'active' | 'next' | 'retired' | 'secret'
export interface KeyRow { kid: string, state: KeyState, jwk: Record<string, unknown>, createdAt: string }

/** What the built-in authorization server starts with: the JWKS (active key first) and the derivation secret. */
export interface KeyRing { jwks: SigningKeys, secret: Record<string, unknown>, active: string, next: string, retired: string[] }

/** Where the key rows are kept: the records store (`oauth_keys`), shared by every instance. */
export interface KeyRowStore {
  /** Runs `fn` on the current rows under a lock and stores what it returns. */
  update: (fn: (rows: KeyRow[]) => Promise<KeyRow[]>) => Promise<KeyRow[]>
}

async function newKey (state: KeyState): Promise<KeyRow> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { kid: crypto.randomUUID(), state, jwk: { ...await exportJWK(privateKey), alg: 'ES256', use: 'sig' }, createdAt: new Date().toISOString() }
}

const newSecret = (): KeyRow => ({ kid: 'derivation-secret', state: 'secret', jwk: { d: randomBytes(32).toString('base64url') }, createdAt: new Date().toISOString() })

/** The keys of a JWKS file of an earlier version (`DATA_DIR/oauth-signing-keys.json`), or null when there is none. */
async function legacyRows (file: string | undefined): Promise<KeyRow[] | null> {
  if (file === undefined) return null
  let jwks: SigningKeys
  try {
    jwks = JSON.parse(await readFile(file, 'utf8')) as SigningKeys
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new Error(`cannot read the signing keys of an earlier version in ${file}: ${(err as Error).message}`)
  }
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) return null
  const at = new Date().toISOString()
  const [first, ...rest] = jwks.keys as Array<Record<string, unknown>>
  const row = (k: Record<string, unknown>, state: KeyState): KeyRow => {
    const { kid, ...jwk } = k
    return { kid: String(kid), state, jwk, createdAt: at }
  }
  // The first key keeps signing, and its private part stays the derivation secret, so sessions and forms in flight survive the upgrade.
  return [row(first as Record<string, unknown>, 'active'), ...rest.map((k) => row(k, 'retired')), { kid: 'derivation-secret', state: 'secret', jwk: { d: String(first?.d) }, createdAt: at }]
}

async function complete (rows: KeyRow[]): Promise<KeyRow[]> {
  const out = [...rows]
  if (!out.some((r) => r.state === 'active')) out.push(await newKey('active'))
  if (!out.some((r) => r.state === 'next')) out.push(await newKey('next'))
  if (!out.some((r) => r.state === 'secret')) out.push(newSecret())
  return out
}

function ring (rows: KeyRow[]): KeyRing {
  const byAge = [...rows].sort((a, b) => b.createdAt.localeCompare(a.createdAt))
  const of = (state: KeyState): KeyRow[] => byAge.filter((r) => r.state === state)
  const [active] = of('active') as [KeyRow]
  const [next] = of('next') as [KeyRow]
  const [secret] = of('secret') as [KeyRow]
  const retired = of('retired')
  const jwk = (r: KeyRow): Record<string, unknown> => ({ ...r.jwk, kid: r.kid })
  return { jwks: { keys: [active, next, ...retired].map(jwk) }, secret: secret.jwk, active: active.kid, next: next.kid, retired: retired.map((r) => r.kid) }
}

/** The key ring at start-up: made on first use (or taken over from `legacyFile`), completed with a next key. */
export async function loadKeyRing (store: KeyRowStore, legacyFile?: string): Promise<KeyRing> {
  return ring(await store.update(async (rows) => await complete(rows.length === 0 ? (await legacyRows(legacyFile)) ?? [] : rows)))
}

/**
 * One rotation step: the next key (published by every instance since its last start) becomes the
 * signing key, the signing key retires, a new next key is made, and only the `keep` newest retired
 * keys stay published. Instances sign with the new key from their next start.
 */
export async function rotateKeyRing (store: KeyRowStore, keep = 1): Promise<KeyRing> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error('--keep must be a whole number of at least 1 (tokens signed by the retiring key must still verify)')
  return ring(await store.update(async (current) => {
    const rows = await complete(current)
    const moved = rows.map((r) => r.state === 'active' ? { ...r, state: 'retired' as const } : r.state === 'next' ? { ...r, state: 'active' as const, createdAt: new Date().toISOString() } : r)
    const retired = moved.filter((r) => r.state === 'retired').sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    const dropped = new Set(retired.slice(keep).map((r) => r.kid))
    return [...moved.filter((r) => !dropped.has(r.kid)), await newKey('next')]
  }))
}

/** Keeps the key rows in memory (tests, and a server without a records store). */
export class MemoryKeyRows implements KeyRowStore {
  #rows: KeyRow[] = []
  async update (fn: (rows: KeyRow[]) => Promise<KeyRow[]>): Promise<KeyRow[]> {
    this.#rows = await fn(this.#rows.map((r) => ({ ...r })))
    return this.#rows
  }
}
