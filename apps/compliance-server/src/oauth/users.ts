import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface User { username: string, passwordHash: string, scopes: string[] }
export interface UsersFile { users: User[] }

const PARAMS = { N: 2 ** 15, r: 8, p: 1 }
const scrypt = async (password: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> =>
  await new Promise((resolve, reject) => { scryptCb(password, salt, keylen, o, (err, key) => { if (err === null) resolve(key); else reject(err) }) })
const maxmem = (o: { N: number, r: number }): number => 256 * o.N * o.r

/** `scrypt$N$r$p$salt$hash` (base64url): scrypt is memory-hard and built into Node. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, 32, { ...PARAMS, maxmem: maxmem(PARAMS) })
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword (password: string, encoded: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = encoded.split('$')
  if (kind !== 'scrypt' || salt === undefined || hash === undefined) return false
  const o = { N: Number(n), r: Number(r), p: Number(p) }
  const expected = Buffer.from(hash, 'base64url')
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { ...o, maxmem: maxmem(o) })
  return timingSafeEqual(key, expected)
}

export async function readUsers (file: string): Promise<UsersFile> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as UsersFile
    if (!Array.isArray(parsed.users)) throw new Error(`${file}: "users" must be an array`)
    return parsed
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { users: [] }
    throw err
  }
}

/** Adds or replaces a user (atomic rename, mode 0600). */
export async function addUser (file: string, username: string, password: string, scopes: string[]): Promise<void> {
  if (username === '' || password === '') throw new Error('username and password must not be empty')
  const data = await readUsers(file)
  const user = { username, passwordHash: await hashPassword(password), scopes }
  data.users = [...data.users.filter((u) => u.username !== username), user]
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 })
  await rename(tmp, file)
}

/** The first line of a stream, without its line ending; stops reading there. */
export async function readFirstLine (input: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8')
    if (text.includes('\n')) break
  }
  return text.split('\n')[0]?.replace(/\r$/, '') ?? ''
}

/** Where users come from: the users file, plus the development user when there is one. */
export class UserDirectory {
  readonly #file: string | null
  readonly #extra: User[]
  constructor (file: string | null, extra: User[] = []) {
    this.#file = file
    this.#extra = extra
  }

  async find (username: string): Promise<User | undefined> {
    const own = this.#extra.find((u) => u.username === username)
    if (own !== undefined) return own
    if (this.#file === null) return undefined
    return (await readUsers(this.#file)).users.find((u) => u.username === username)
  }

  /** The user when the password is right; otherwise null (the same work is done for an unknown user). */
  async authenticate (username: string, password: string): Promise<User | null> {
    const user = await this.find(username)
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY)
    return ok && user !== undefined ? user : null
  }
}

const DUMMY = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`
