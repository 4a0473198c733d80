// Coverage gate: for each package of .ci/coverage.json, builds tap's json-summary report from the
// coverage of the last full test run in that package and compares the totals with the floors.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const floors = JSON.parse(readFileSync(join(root, '.ci/coverage.json'), 'utf8'))
let failed = 0
for (const [pkg, floor] of Object.entries(floors)) {
  if (pkg.startsWith('_')) continue
  const dir = join(root, pkg)
  execFileSync('pnpm', ['exec', 'tap', 'report', 'json-summary'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const total = JSON.parse(readFileSync(join(dir, '.tap/report/coverage-summary.json'), 'utf8')).total
  for (const [metric, min] of Object.entries(floor)) {
    const pct = total[metric].pct
    const ok = pct >= min
    if (!ok) failed++
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${pkg} ${metric} ${pct}% (floor ${min}%)`)
  }
}
process.exitCode = failed === 0 ? 0 : 1
