// What a reviewer sees on a hit: the explanation recomputes the score; weak aliases by policy;
// identifiers decisive; filters; the scorer's bounded phonetic bonus and token weights.
import t from 'tap'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { sameCountry } from '../src/domain/countries.js'
import { loadDataDir } from '../src/domain/loaders.js'
import { explainLine, extractIdentifiers, ScreeningIndex, type ScreeningHit } from '../src/screening/index.js'
import { MINOR_WEIGHT, PHONETIC_BONUS, phoneticCodes, tokenSimilarity, TokenWeights } from '../src/screening/scorer.js'

const { entries } = await loadDataDir(DEFAULT_DATA_DIR)
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })

function recompute (h: ScreeningHit): number {
  const x = h.explanation
  const w = x.tokens.reduce((s, p) => s + p.weight, 0)
  const tokenScore = w === 0 ? 0 : x.tokens.reduce((s, p) => s + p.credit * p.weight, 0) / w
  const nameScore = x.factors.reduce((s, f) => s * f.factor, tokenScore)
  const total = x.adjustments.reduce((s, a) => s + a.delta, nameScore)
  return Math.round(Math.max(0, Math.min(1, total)) * 1000) / 1000
}

t.test('every hit\'s score is recomputed from its explanation', async (t) => {
  const queries = [
    { name: 'Vladimir Putin' }, { name: 'Putin Vladimir', birthDate: '1952-10-07', country: 'RU' }, { name: 'Vladimir Putin', birthDate: '1990' },
    { name: 'Muammar Gaddafi', nationality: 'Libya' }, { name: 'Banco Nacional de Cuba S.A.' }, { name: 'Kim Jong-un', type: 'entity' as const },
    { name: 'Hezbollah' }, { name: 'Mousa Abu Marzook', identifiers: [{ kind: 'passport', value: '92/664' }] }, { name: 'Joaquin Guzman' }
  ]
  let n = 0
  for (const q of queries) {
    for (const h of index.screen({ ...q, threshold: 0.3, limit: 50 })) {
      n++
      t.equal(recompute(h), h.score, `${q.name} → ${h.id}`)
      t.equal(h.explanation.score, h.score)
      t.equal(h.explanation.matchedName, h.matchedName)
      t.ok(Math.abs(h.explanation.nameScore - h.explanation.factors.reduce((s, f) => s * f.factor, h.explanation.tokenScore)) < 1e-12)
    }
  }
  t.ok(n >= 15, `${n} hits checked`)
  const line = explainLine(index.screen({ name: 'Putin Vladimir', birthDate: '1952' })[0] as ScreeningHit)
  t.match(line, /^OFAC-SDN 35096 PUTIN, Vladimir Vladimirovich: 1 via aka "PUTIN, Vladimir" \[putin~putin 1\.00×[\d.]+, vladimir~vladimir 1\.00×[\d.]+\] name 1\.000; birth_date \+0\.020$/)
})

t.test('adjustments are visible: birth date, country, nationality, type', async (t) => {
  const reasons = (q: Parameters<ScreeningIndex['screen']>[0]): Record<string, number> =>
    Object.fromEntries((index.screen({ ...q, threshold: 0 }).find((h) => h.id === '35096')?.explanation.adjustments ?? []).map((a) => [a.reason, a.delta]))
  t.same(reasons({ name: 'Vladimir Putin', birthDate: '1952-10-07' }), { birth_date: 0.05 })
  t.same(reasons({ name: 'Vladimir Putin', birthDate: '1952' }), { birth_date: 0.02 })
  t.same(reasons({ name: 'Vladimir Putin', birthDate: '1990' }), { birth_date: -0.15 })
  t.same(reasons({ name: 'Vladimir Putin', country: 'Russia', nationality: 'Germany' }), { country: 0.03, nationality: -0.05 })
  t.same(reasons({ name: 'Vladimir Putin', type: 'vessel' }), { type: -0.25 })
  t.same(index.screen({ name: 'Vladimir Putin', type: 'vessel' }), [], 'a contradicting type falls below the default threshold')
})

t.test('weak aliases are not screened unless asked, and the policy is named', async (t) => {
  const entry = entries.find((e) => e.aliases.some((a) => a.kind === 'weak' && a.name === 'BURTON BURGESS'))
  t.ok(entry, 'the sample has the weak alias')
  t.notOk(index.screen({ name: 'Burton Burgess' }).some((h) => h.id === entry?.id), 'excluded by default')
  const hit = index.screen({ name: 'Burton Burgess', includeWeakAliases: true }).find((h) => h.id === entry?.id)
  t.match(hit, { matchedNameKind: 'weak', explanation: { adjustments: [{ reason: 'weak_alias', delta: -0.03 }] } })
  t.equal(ScreeningIndex.weakAliasPolicy({}), 'excluded')
  t.equal(ScreeningIndex.weakAliasPolicy({ includeWeakAliases: true }), 'included')
})

t.test('identifiers: parsed from remarks, decisive when they match, shown as such', async (t) => {
  t.same(extractIdentifiers('DOB 1951; Passport 92/664 (Egypt); National ID No. 12345678 (Colombia); IMO 9187629; Digital Currency Address - XBT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT.'), [
    { kind: 'passport', value: '92/664', country: 'Egypt' },
    { kind: 'national_id', value: '12345678', country: 'Colombia' },
    { kind: 'imo', value: '9187629' },
    { kind: 'crypto:XBT', value: '1BoatSLRHtKNngkdXEeobR76b53LETtpyT' }
  ])
  t.ok(index.identifiersOf('OFAC-SDN', '3754').some((i) => i.kind === 'passport' && i.value === '92/664'))
  const byDoc = index.screen({ name: 'Someone Else Entirely', identifiers: [{ kind: 'passport', value: '92 664' }] })
  t.match(byDoc[0], { id: '3754', score: 1, matchedNameKind: 'identifier', explanation: { adjustments: [{ reason: 'identifier', detail: /passport 92\/664 matches \(decisive\)/ }] } })
  t.same(index.screen({ name: 'Someone Else Entirely', identifiers: [{ kind: 'imo', value: '92 664' }] }), [], 'the kind must agree')
  t.equal(index.screen({ name: 'IMO 9187629' })[0]?.id, '15036', 'an identifier typed as the name still works')
})

t.test('programs and sources filter; hit.source stays the list code', async (t) => {
  const all = index.screen({ name: 'Qadhafi', threshold: 0.6, limit: 100 })
  t.ok(all.some((h) => h.source === 'UN') && all.some((h) => h.source === 'OFAC-SDN'))
  t.ok(index.screen({ name: 'Qadhafi', threshold: 0.6, limit: 100, sources: ['UN'] }).every((h) => h.source === 'UN'))
  const libya = index.screen({ name: 'Qadhafi', threshold: 0.6, limit: 100, programs: ['LIBYA2'] })
  t.ok(libya.length > 0 && libya.every((h) => h.programs.includes('LIBYA2')))
})

t.test('the scorer: a phonetic agreement adds a bounded amount, frequent and minor tokens weigh little', async (t) => {
  const sim = (a: string, b: string): number => tokenSimilarity(a, b, phoneticCodes(a), phoneticCodes(b)).similarity
  const bonus = tokenSimilarity('bank', 'pyong', phoneticCodes('bank'), phoneticCodes('pyong'))
  t.ok(bonus.phonetic <= PHONETIC_BONUS && bonus.similarity < 0.8, `bank~pyong ${bonus.similarity}: a shared code (PNK) is not a match`)
  t.ok(sim('ireland', 'iran') < 0.8, 'IRELAND is not a spelling of IRAN')
  t.ok(sim('sergei', 'sergey') >= 0.9)
  t.equal(sim('o', 'osama'), 0.86, 'an initial against the name it starts')
  t.equal(sim('osama', 'o'), 0, 'but a listed initial does not match a full query token')
  const w = new TokenWeights([['bank', 'melli'], ['bank', 'sepah'], ['bank', 'mellat'], ['saderat', 'bank']])
  t.ok(w.weight('bank') < w.weight('sepah'))
  t.equal(w.weight('ltd'), MINOR_WEIGHT)
  t.equal(w.weight('of'), MINOR_WEIGHT)
  t.equal(w.weight('neverlisted'), 1)
})
