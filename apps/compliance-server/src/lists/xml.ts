import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { SaxesParser } from 'saxes'
import { DataError } from './errors.js'

/** A captured element: its attributes, text and children (only for the records asked for). */
export interface XmlNode {
  name: string
  attrs: Record<string, string>
  text: string
  children: XmlNode[]
}

const local = (name: string): string => name.slice(name.indexOf(':') + 1)

/** The first child named `name`, its trimmed text, and all children so named. */
export function child (n: XmlNode | undefined, name: string): XmlNode | undefined {
  return n?.children.find((c) => c.name === name)
}
export function children (n: XmlNode | undefined, name: string): XmlNode[] {
  return n === undefined ? [] : n.children.filter((c) => c.name === name)
}
export function textOf (n: XmlNode | undefined, name?: string): string | null {
  const t = (name === undefined ? n : child(n, name))?.text.trim()
  return t === undefined || t === '' ? null : t
}
/** Every descendant named `name`, depth first. */
export function descendants (n: XmlNode, name: string, out: XmlNode[] = []): XmlNode[] {
  for (const c of n.children) {
    if (c.name === name) out.push(c)
    descendants(c, name, out)
  }
  return out
}

export interface StreamOptions {
  file: string
  /** The root element the format has, and what to call the format in an error. */
  root: string
  expected: string
  /** Elements captured whole (with their subtree) and handed to `onRecord`; nested ones are not captured again. */
  records: ReadonlySet<string>
  onRoot?: (attrs: Record<string, string>) => void
  onRecord: (node: XmlNode) => void
}

function decoderFor (first: Buffer): InstanceType<typeof TextDecoder> {
  if (first[0] === 0xff && first[1] === 0xfe) return new TextDecoder('utf-16le')
  if (first[0] === 0xfe && first[1] === 0xff) return new TextDecoder('utf-16be')
  return new TextDecoder('utf-8')
}

/**
 * Streams an XML file through saxes, keeping in memory only the record being read: a list of
 * hundreds of megabytes never becomes one document tree. Yields to the event loop between chunks
 * so that screening requests are served while a new list is read.
 */
export async function streamXml (bytes: Buffer, o: StreamOptions): Promise<void> {
  const parser = new SaxesParser({ xmlns: false, position: true })
  const stack: XmlNode[] = []
  let depth = 0
  let sawRoot = false
  let error: Error | null = null
  parser.on('error', (err) => { error ??= err })
  parser.on('opentag', (tag) => {
    const name = local(tag.name)
    depth++
    if (depth === 1) {
      if (name !== o.root) throw new DataError(`${o.file}: expected ${o.expected} (root element <${o.root}>), found <${name}>`)
      sawRoot = true
      const attrs: Record<string, string> = {}
      for (const [k, v] of Object.entries(tag.attributes)) attrs[local(k)] = String(v)
      o.onRoot?.(attrs)
      return
    }
    if (stack.length === 0 && !o.records.has(name)) return
    const attrs: Record<string, string> = {}
    for (const [k, v] of Object.entries(tag.attributes)) attrs[local(k)] = String(v)
    const node: XmlNode = { name, attrs, text: '', children: [] }
    stack.at(-1)?.children.push(node)
    stack.push(node)
  })
  const onText = (t: string): void => { const top = stack.at(-1); if (top !== undefined) top.text += t }
  parser.on('text', onText)
  parser.on('cdata', onText)
  parser.on('closetag', () => {
    depth--
    const node = stack.pop()
    if (node !== undefined && stack.length === 0) o.onRecord(node)
  })
  const decoder = decoderFor(bytes)
  const CHUNK = 256 * 1024
  try {
    for (let at = 0; at < bytes.length && error === null; at += CHUNK) {
      parser.write(decoder.decode(bytes.subarray(at, at + CHUNK), { stream: true }))
      if (at + CHUNK < bytes.length) await yieldToLoop()
    }
    if (error === null) parser.write(decoder.decode()).close()
  } catch (err) {
    if (err instanceof DataError) throw err
    error ??= err as Error
  }
  if (error !== null) throw new DataError(`${o.file}: not well-formed XML (${(error as Error).message.split('\n')[0] ?? ''}); expected ${o.expected}`)
  if (!sawRoot) throw new DataError(`${o.file}: empty; expected ${o.expected}`)
}

/** `2024-05-03T…` or `2024-05-03` → `2024-05-03`; anything else → `null`. */
export function isoDay (s: string | null | undefined): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s?.trim() ?? '')
  return m === null ? null : `${m[1]}-${m[2]}-${m[3]}`
}
