// Prints the explained hits of a few queries: `node dist-bench/bench/explain.js <data dir> <threshold> "name" ["name" …]`.
import { loadDataDir } from '../src/domain/loaders.js'
import { sameCountry } from '../src/domain/countries.js'
import { explainLine, ScreeningIndex } from '../src/screening/index.js'

const [dir, threshold, ...names] = process.argv.slice(2)
if (dir === undefined || threshold === undefined) throw new Error('usage: explain <data dir> <threshold> "name" …')
const { entries } = await loadDataDir(dir)
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
for (const name of names) {
  console.log(`> ${name}`)
  for (const h of index.screen({ name, threshold: Number(threshold), limit: 5 })) console.log(`  ${explainLine(h)}`)
}
