import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { z } from 'zod'
import { DataError } from './errors.js'
import { OFAC_CSV_FILES, OFAC_CSV_SETS } from './readers/ofac-csv.js'
import { LIST_FORMATS, type ListFile, type SourceConfig } from './types.js'

const SourceSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9][\w.:/-]{0,79}$/, 'id must be 1-80 letters, digits or ._:/-'),
  format: z.enum(LIST_FORMATS),
  url: z.string().refine((s) => { try { return ['http:', 'https:'].includes(new URL(s).protocol) } catch { return false } }, 'url must be an http(s) URL').optional(),
  path: z.string().min(1).optional()
}).strict().refine((s) => (s.url === undefined) !== (s.path === undefined), 'give exactly one of url and path')

/** Parses `SANCTIONS_SOURCES` (a JSON array); the error names the bad entry. */
export function parseSources (json: string): SourceConfig[] {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (err) {
    throw new DataError(`not JSON (${(err as Error).message})`)
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new DataError('must be a non-empty JSON array of { id, format, url | path }')
  const ids = new Set<string>()
  return raw.map((item: unknown, i) => {
    const r = SourceSchema.safeParse(item)
    const label = `entry ${i}${typeof (item as { id?: unknown })?.id === 'string' ? ` ("${(item as { id: string }).id}")` : ''}`
    if (!r.success) {
      const issue = r.error.issues[0]
      const where = issue?.path.length === 0 ? '' : `${String(issue?.path.join('.'))}: `
      throw new DataError(`${label}: ${where}${issue?.message ?? 'invalid'}`)
    }
    if (ids.has(r.data.id)) throw new DataError(`${label}: duplicate id`)
    ids.add(r.data.id)
    return { id: r.data.id, format: r.data.format, ...(r.data.url === undefined ? {} : { url: r.data.url }), ...(r.data.path === undefined ? {} : { path: r.data.path }) }
  })
}

/**
 * The sources of a data folder, as `SANCTIONS_DATA_DIR` has always meant: each folder (to two levels)
 * holding an OFAC CSV set, and every `.xml` file, whose format is then detected from its content.
 */
export async function sourcesOfDir (dir: string): Promise<SourceConfig[]> {
  const out: SourceConfig[] = []
  const walk = async (d: string, depth: number): Promise<void> => {
    let names: string[]
    try {
      names = (await readdir(d)).sort()
    } catch (err) {
      throw new DataError(`cannot read ${d} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    const id = (p: string): string => relative(dir, p) || basename(p)
    if (OFAC_CSV_SETS.some((s) => names.includes(s.main))) out.push({ id: id(d), format: 'ofac-csv', path: d })
    for (const name of names) {
      const path = join(d, name)
      const st = await stat(path)
      if (st.isFile() && name.toLowerCase().endsWith('.xml')) out.push({ id: id(path), format: 'auto', path })
      else if (depth < 2 && !name.startsWith('.') && st.isDirectory()) await walk(path, depth + 1)
    }
  }
  await walk(dir, 0)
  if (out.length === 0) throw new DataError(`no sanctions list (an OFAC CSV set or an .xml list) found in ${dir}`)
  return out
}

/** What a previous check saw, so that an unchanged source costs nothing: HTTP validators or a file's size and time. */
export type Validators = Record<string, { etag?: string, lastModified?: string, mtimeMs?: number, size?: number }>

export interface Fetched {
  notModified: boolean
  files: ListFile[]
  validators: Validators
}

export type FetchLike = typeof fetch

const TIMEOUT_MS = 120_000

async function fetchUrl (url: string, name: string, prev: Validators[string] | undefined, optional: boolean, fetchImpl: FetchLike): Promise<{ status: 'ok', file: ListFile, v: Validators[string] } | { status: 'not-modified' | 'absent' }> {
  const headers: Record<string, string> = {}
  if (prev?.etag !== undefined) headers['if-none-match'] = prev.etag
  if (prev?.lastModified !== undefined) headers['if-modified-since'] = prev.lastModified
  const res = await fetchImpl(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) })
  if (res.status === 304) { await res.body?.cancel(); return { status: 'not-modified' } }
  if (optional && res.status === 404) { await res.body?.cancel(); return { status: 'absent' } }
  if (!res.ok) { await res.body?.cancel(); throw new DataError(`${url}: HTTP ${res.status}`) }
  const bytes = Buffer.from(await res.arrayBuffer())
  const length = res.headers.get('content-length')
  if (length !== null && res.headers.get('content-encoding') === null && Number(length) !== bytes.length) throw new DataError(`${url}: truncated download (${bytes.length} of ${length} bytes)`)
  const v: Validators[string] = {}
  const etag = res.headers.get('etag')
  const lastModified = res.headers.get('last-modified')
  if (etag !== null) v.etag = etag
  if (lastModified !== null) v.lastModified = lastModified
  return { status: 'ok', file: { name, bytes }, v }
}

/** Fetches a source, conditionally: `notModified` when nothing changed since `prev` (HTTP 304, or same size and time on disk). */
export async function fetchSource (src: SourceConfig, prev: Validators = {}, fetchImpl: FetchLike = fetch): Promise<Fetched> {
  if (src.url !== undefined) {
    if (src.format !== 'ofac-csv') {
      const name = decodeURIComponent(basename(new URL(src.url).pathname)) || src.id
      const r = await fetchUrl(src.url, name, prev[name], false, fetchImpl)
      if (r.status !== 'ok') return { notModified: true, files: [], validators: prev }
      return { notModified: false, files: [r.file], validators: { [name]: r.v } }
    }
    const base = src.url.endsWith('/') ? src.url : `${src.url}/`
    const attempt = async (conditional: boolean): Promise<Fetched> => {
      const files: ListFile[] = []
      const validators: Validators = {}
      let changed = false
      for (const name of OFAC_CSV_FILES) {
        const r = await fetchUrl(new URL(name, base).href, name, conditional ? prev[name] : undefined, true, fetchImpl)
        if (r.status === 'ok') { files.push(r.file); validators[name] = r.v; changed = true } else if (r.status === 'not-modified') validators[name] = prev[name] ?? {}
      }
      return { notModified: !changed, files, validators }
    }
    const first = await attempt(true)
    if (first.notModified || Object.keys(first.validators).length === first.files.length) {
      if (!first.notModified && !first.files.some((f) => OFAC_CSV_SETS.some((s) => s.main === f.name))) throw new DataError(`${base}: neither sdn.csv nor cons_prim.csv found`)
      return first
    }
    return await attempt(false)
  }
  const path = src.path as string
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => { throw new DataError(`${path}: cannot read (${err.code ?? err.message})`) })
  const paths = s.isDirectory()
    ? (await readdir(path)).filter((n) => OFAC_CSV_FILES.includes(n.toLowerCase())).sort().map((n) => join(path, n))
    : [path]
  if (paths.length === 0) throw new DataError(`${path}: no OFAC CSV file (sdn.csv or cons_prim.csv) in this folder`)
  const validators: Validators = {}
  for (const p of paths) {
    const st = await stat(p)
    validators[basename(p)] = { mtimeMs: st.mtimeMs, size: st.size }
  }
  const same = Object.keys(prev).length === paths.length &&
    Object.entries(validators).every(([k, v]) => prev[k]?.mtimeMs === v.mtimeMs && prev[k]?.size === v.size)
  if (same) return { notModified: true, files: [], validators }
  const files = await Promise.all(paths.map(async (p) => ({ name: basename(p), bytes: await readFile(p) })))
  return { notModified: false, files, validators }
}
