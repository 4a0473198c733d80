// The screen-file command on a generated customer file, through the built CLI.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))

function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

t.test('screen-file writes one row per subject, in order, with the best hit, and a progress bar on stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-file-'))
  const input = join(dir, 'customers.csv')
  const output = join(dir, 'results.csv')
  const rows = ['ref,name,type,birthDate,country,nationality', 'c-1,Banco Nacional de Cuva,,,,', 'c-2,"Smith, John",individual,1980,GB,', 'c-3,Vladimir Putin,individual,1952-10-07,,Russia']
  for (let i = 4; i <= 250; i++) rows.push(`c-${i},Customer ${i} Holdings,entity,,,`)
  rows.push(',Muammar Gaddafi,,,,')
  await writeFile(input, rows.join('\n') + '\n')
  const r = await run(['screen-file', input, '--out', output])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /251 subjects screened, \d+ with hits/)
  t.match(r.stderr, /\[#{20}\] 100% 251\/251/)
  const out = parse(await readFile(output, 'utf8'), { columns: true }) as Array<Record<string, string>>
  t.equal(out.length, 251)
  t.same(Object.keys(out[0] ?? {}), ['ref', 'name', 'hits', 'best_source', 'best_id', 'best_name', 'best_score'])
  t.match(out[0], { ref: 'c-1', name: 'Banco Nacional de Cuva', best_source: 'OFAC-SDN', best_id: '306', best_name: 'BANCO NACIONAL DE CUBA' })
  t.match(out[1], { ref: 'c-2', name: 'Smith, John', hits: '0', best_id: '' })
  t.match(out[2], { ref: 'c-3', best_id: '35096', best_score: '1' })
  t.equal(out[250]?.ref, '251', 'a missing ref is the row number')
  t.equal(out[250]?.best_id, '12606')
  t.ok(Number(out[0]?.hits) >= 1)
})

t.test('screen-file refuses a file without a name column, and missing arguments', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-file-'))
  const input = join(dir, 'bad.csv')
  await writeFile(input, 'ref,fullname\n1,Someone\n')
  const bad = await run(['screen-file', input, '--out', join(dir, 'o.csv')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /no "name" column/)
  const missing = await run(['screen-file', input])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /screen-file needs IN\.csv and --out OUT\.csv/)
})
