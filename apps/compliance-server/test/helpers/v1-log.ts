import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import canonicalize from 'canonicalize'

/**
 * Writes an audit log in the line format of the service's earlier versions (v1: `{ seq, prevHash,
 * hash, record }` with `hash = sha256(JCS({ seq, prevHash, record }))`), which verify-audit must keep
 * verifying. A fixture writer: the service itself writes v2 lines only.
 */
export async function writeV1Log (file: string, records: Array<Record<string, unknown>>): Promise<void> {
  let prevHash = '0'.repeat(64)
  let text = ''
  records.forEach((record, i) => {
    const seq = i + 1
    const hash = createHash('sha256').update(canonicalize({ seq, prevHash, record }) as string).digest('hex')
    text += `${JSON.stringify({ seq, prevHash, hash, record })}\n`
    prevHash = hash
  })
  await writeFile(file, text)
}
