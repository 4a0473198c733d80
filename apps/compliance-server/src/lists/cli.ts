import { createHash } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { detectFormat, FORMAT_NAMES, readFiles } from './detect.js'
import { fetchSource } from './sources.js'
import type { ListFile, SourceConfig } from './types.js'

/**
 * Downloads (or copies) every source into `out`, one folder per source, after checking that each
 * parses; writes `sources.json`, a `SANCTIONS_SOURCES` value pointing at the copies. Returns one line per source.
 */
export async function fetchLists (sources: SourceConfig[], out: string): Promise<{ lines: string[], failed: number }> {
  const lines: string[] = []
  const local: SourceConfig[] = []
  let failed = 0
  for (const src of sources) {
    try {
      const fetched = await fetchSource(src)
      const results = await readFiles(fetched.files, src.format)
      const dir = join(resolve(out), src.id.replace(/[^\w-]+/g, '_'))
      await mkdir(dir, { recursive: true })
      for (const f of fetched.files) {
        const xml = results[0]?.format !== 'ofac-csv' && !f.name.toLowerCase().endsWith('.xml')
        await writeFile(join(dir, xml ? `${f.name}.xml` : f.name), f.bytes)
      }
      const one = fetched.files.length === 1 && results[0]?.format !== 'ofac-csv' ? fetched.files[0] as ListFile : null
      const name = one === null ? null : one.name.toLowerCase().endsWith('.xml') ? one.name : `${one.name}.xml`
      local.push({ id: src.id, format: results[0]?.format ?? src.format, path: name === null ? dir : join(dir, name) })
      lines.push(`${src.id}: ${results.map((r) => `${r.source} ${r.entries.length} records, published ${r.publishedAt ?? 'date not stated'}`).join('; ')} -> ${dir}`)
    } catch (err) {
      failed++
      lines.push(`${src.id}: FAILED ${(err as Error).message}`)
    }
  }
  await mkdir(out, { recursive: true })
  await writeFile(join(out, 'sources.json'), `${JSON.stringify(local, null, 2)}\n`)
  return { lines, failed }
}

/** What a list file (or an OFAC CSV folder) is: format, source, publication date, records, SHA-256. */
export async function listInfo (path: string): Promise<string> {
  const s = await stat(path)
  let files: ListFile[]
  if (s.isDirectory()) {
    const { fetchSource: f } = await import('./sources.js')
    files = (await f({ id: path, format: 'ofac-csv', path })).files
  } else {
    files = [{ name: path, bytes: await readFile(path) }]
  }
  const results = await readFiles(files, 'auto')
  const format = results[0]?.format ?? detectFormat(files[0]?.bytes ?? Buffer.alloc(0))
  const sha = files.length === 1 ? createHash('sha256').update(files[0]?.bytes ?? '').digest('hex') : null
  return [
    `${path}: ${format === null ? 'unknown' : `${FORMAT_NAMES[format]} (${format})`}`,
    ...results.map((r) => `  ${r.source}: ${r.entries.length} records, published ${r.publishedAt ?? 'not stated by the format (publishedAt null)'}`),
    ...(sha === null ? [] : [`  sha256 ${sha}`])
  ].join('\n')
}
