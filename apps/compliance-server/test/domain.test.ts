import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DATA_DIR } from '../src/config.js'
import { verifyNdjson } from '../src/records/verify.js'
import { writeV1Log } from './helpers/v1-log.js'
import { CountryRiskLists, resolveCountry, sameCountry } from '../src/domain/countries.js'
import { validateIdentifier } from '../src/domain/identifiers.js'
import { loadDataDir, loadOfac, parseRemarks } from '../src/domain/loaders.js'
import { DEFAULT_THRESHOLD, ScreeningIndex } from '../src/screening/index.js'
import { triageAlert } from '../src/domain/triage.js'

const { entries, datasets } = await loadDataDir(DEFAULT_DATA_DIR)
const index = new ScreeningIndex(entries, { countryMatches: sameCountry })
const top = (name: string, extra: Record<string, string> = {}): string | undefined => {
  const hit = index.screen({ name, ...extra })[0]
  return hit === undefined ? undefined : `${hit.source}:${hit.id}`
}

t.test('loaders read the official formats', async (t) => {
  t.same(datasets.map((d) => [d.source, d.records]), [['OFAC-SDN', 68], ['UN', 12]])
  t.ok(datasets.every((d) => /^[0-9a-f]{64}$/.test(d.sha256)))
  t.equal(datasets.find((d) => d.source === 'UN')?.publishedAt, '2026-02-27', 'UN date from dateGenerated')
  t.equal(datasets.find((d) => d.source === 'UN')?.fileDate, '2026-02-27', 'fileDate = publishedAt when known')
  const ofac = datasets.find((d) => d.source === 'OFAC-SDN')
  t.equal(ofac?.publishedAt, null, 'the legacy CSV carries no date: never a file time')
  t.notOk('fileDate' in (ofac ?? {}), 'fileDate absent when the date is unknown')
  const putin = index.getEntry('OFAC-SDN', '35096')
  t.equal(putin?.type, 'individual')
  t.same(putin?.birthDates, ['1952-10-07'])
  t.ok(putin?.countries.includes('Russia'))
  const hizballah = index.getEntry('OFAC-SDN', '4697')
  t.ok((hizballah?.programs.length ?? 0) >= 2, 'multi-program field split')
  const un = index.getEntry('UN', 'LYi.009')
  t.equal(un?.name, 'AISHA MUAMMAR MUHAMMED ABU MINYAR QADHAFI')
  t.ok((un?.aliases.length ?? 0) > 0)
  const facts = parseRemarks("DOB 01 Jan 1950; nationality Iran; IMO 1234567; a.k.a. 'WEAK ONE'; Digital Currency Address - XBT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT.")
  t.same(facts.aliases, ['WEAK ONE'])
  t.same(facts.birthDates, ['1950-01-01'])
  t.same(facts.countries, ['Iran'])
  t.same(facts.identifiers.map((i) => i.kind), ['imo', 'crypto:XBT'])
})

t.test('a folder without lists, and a malformed file, are clear errors', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'cs-'))
  await t.rejects(loadDataDir(empty), /no sanctions list/)
  const bad = await mkdtemp(join(tmpdir(), 'cs-'))
  await writeFile(join(bad, 'sdn.csv'), '"x","no id"\r\n')
  await t.rejects(loadOfac(bad), /sdn\.csv: expected the OFAC legacy CSV set/)
})

t.test('golden hits: spelling variants, word order, legal forms, diacritics, identifiers', async (t) => {
  t.equal(top('Muammar Gaddafi'), 'OFAC-SDN:12606')
  t.equal(top('Muammar al-Qadhafi'), 'OFAC-SDN:12606')
  t.equal(index.screen({ name: 'Hezbollah', threshold: 0.86 })[0]?.id, '4697', 'a one-token transliteration scores 0.864: found below the calibrated default (README, threshold)')
  t.equal(top('Putin Vladimir'), 'OFAC-SDN:35096')
  t.equal(top('Sergey Lavrov'), 'OFAC-SDN:35233')
  t.equal(top('Sergei Lavrov'), 'OFAC-SDN:35233')
  t.equal(top('Banco Nacional de Cuba S.A.'), 'OFAC-SDN:306')
  t.equal(top('Kim Jong-un'), 'OFAC-SDN:20157')
  t.equal(top('Joaquín Guzmán Loera'), 'OFAC-SDN:6861', 'diacritics')
  t.equal(top('IMO 9187629'), 'OFAC-SDN:15036')
  t.equal(top('12udabs2TkX7NXCSj6KpqXfakjE52ZPLhz'), 'OFAC-SDN:29702')
  const hit = index.screen({ name: 'Vladimir Putin' })[0]
  t.match(hit, { source: 'OFAC-SDN', id: '35096', matchedNameKind: 'aka', type: 'individual' })
  t.ok((hit?.score ?? 0) >= DEFAULT_THRESHOLD)
})

t.test('clean everyday names do not hit at the default threshold', async (t) => {
  for (const name of ['John Smith', 'Maria Garcia', 'Acme Widgets Ltd', 'Robert Johnson', 'Global Trading LLC', 'Anna Schmidt']) {
    t.same(index.screen({ name }), [], name)
  }
})

t.test('birth date, country and type adjust the ranking', async (t) => {
  const base = index.screen({ name: 'Vladimir Putin', threshold: 0 })[0]?.score ?? 0
  const sameDob = index.screen({ name: 'Vladimir Putin', birthDate: '1952-10-07', threshold: 0 })[0]?.score ?? 0
  const otherDob = index.screen({ name: 'Vladimir Putin', birthDate: '1990-01-01', threshold: 0 })
  t.ok(sameDob >= base)
  t.ok((otherDob.find((h) => h.id === '35096')?.score ?? 1) < base, 'a conflicting birth year lowers the score')
  t.same(index.screen({ name: 'Vladimir Putin', type: 'vessel' }), [], 'type filter')
  const country = index.screen({ name: 'Vladimir Putin', country: 'RU', threshold: 0 })[0]?.score ?? 0
  t.ok(country >= base)
})

t.test('country resolution and risk lists', async (t) => {
  for (const [input, alpha2] of [['KP', 'KP'], ['PRK', 'KP'], ['Korea, North', 'KP'], ["Democratic People's Republic of Korea", 'KP'], ['Burma', 'MM'], ['Iran (Islamic Republic of)', 'IR'], ['iran', 'IR'], ['Côte d’Ivoire', 'CI'], ['germany', 'DE']]) {
    t.equal(resolveCountry(input as string)?.alpha2, alpha2, String(input))
  }
  t.equal(resolveCountry('Atlantis'), null)
  const risk = await CountryRiskLists.load(join(DEFAULT_DATA_DIR, 'country-risk.json'))
  const kp = risk.assess(resolveCountry('Korea, North') as NonNullable<ReturnType<typeof resolveCountry>>)
  t.equal(kp.riskLevel, 'high')
  t.ok(kp.lists.some((l) => l.list === 'FATF' && l.status === 'call_for_action'))
  t.equal(kp.asOf.fatf, '2026-06-19')
  t.equal(risk.assess(resolveCountry('DE') as NonNullable<ReturnType<typeof resolveCountry>>).riskLevel, 'standard')
  t.equal(risk.assess(resolveCountry('Bolivia') as NonNullable<ReturnType<typeof resolveCountry>>).riskLevel, 'elevated')
})

t.test('IBAN, BIC and LEI validation', async (t) => {
  t.match(validateIdentifier('iban', 'GB82 WEST 1234 5698 7654 32'), { valid: true, normalized: 'GB82WEST12345698765432', details: { countryCode: 'GB' } })
  t.match(validateIdentifier('iban', 'GB82WEST12345698765433'), { valid: false })
  t.match(validateIdentifier('bic', 'DEUTDEFF'), { valid: true, details: { bankCode: 'DEUT', countryCode: 'DE' } })
  t.match(validateIdentifier('bic', 'DEUT1EFF'), { valid: false })
  t.match(validateIdentifier('lei', '5493001KJTIIGC8Y1R12'), { valid: true })
  t.match(validateIdentifier('lei', '5493001KJTIIGC8Y1R13'), { valid: false, reasons: [/check digits/] })
  t.match(validateIdentifier('lei', 'short'), { valid: false, reasons: [/18 letters/] })
})

t.test('triage follows the published steps and never decides', async (t) => {
  const entry = index.getEntry('OFAC-SDN', '35096')
  const hit = { source: 'OFAC-SDN', id: '35096', matchedName: 'PUTIN, Vladimir', score: 1 }
  t.equal(triageAlert(hit, entry, { name: 'Vladimir Putin', type: 'individual', birthDate: '1952-10-07', country: 'Russia' }).suggestion, 'escalate')
  const fp = triageAlert(hit, entry, { name: 'Vladimir Putin', type: 'individual', birthDate: '1991-03-02', country: 'Canada' })
  t.equal(fp.suggestion, 'probable_false_positive')
  t.ok(fp.reasons.some((r) => /date of birth/.test(r)))
  t.equal(triageAlert(hit, entry, { name: 'Vladimir Putin' }).suggestion, 'investigate')
  t.equal(triageAlert({ ...hit, matchedName: 'PUTIN', score: 0.9 }, entry, { name: 'Putin' }).suggestion, 'probable_false_positive', 'a single name part')
  const vessel = index.getEntry('OFAC-SDN', '15036')
  t.equal(triageAlert({ source: 'OFAC-SDN', id: '15036', matchedName: 'x', score: 1 }, vessel, { name: 'x', identifiers: ['9187629'] }).suggestion, 'escalate')
})

t.test('an audit log of an earlier version (v1 lines) keeps verifying; a tampered or removed line is named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'audit-'))
  const file = join(dir, 'audit.ndjson')
  await writeV1Log(file, Array.from({ length: 20 }, (_, i) => ({ i })))
  const text = await readFile(file, 'utf8')
  t.match(verifyNdjson(text, null), { ok: true, records: 20, firstSeq: 1, lastSeq: 20 })
  const lines = text.split('\n')
  const tampered = [...lines]
  tampered[6] = (tampered[6] as string).replace('"i":6', '"i":66')
  t.match(verifyNdjson(tampered.join('\n'), null), { ok: false, broken: { seq: 7, line: 7, reason: /hash does not match/ } })
  const removed = lines.filter((_, i) => i !== 3)
  t.match(verifyNdjson(removed.join('\n'), null), { ok: false, broken: { seq: 5, reason: /expected 4/ } })
  const extraKey = [...lines]
  extraKey[0] = (extraKey[0] as string).replace('{', '{"note":"added",')
  t.match(verifyNdjson(extraKey.join('\n'), null), { ok: false, broken: { seq: 1, reason: /unexpected keys in a v1 line: note/ } })
})

const full = '/work/shared/data/ofac-sdn-2021'
const fullDir = process.env.OFAC_FULL_DIR ?? (existsSync(full) ? full : join(DEFAULT_DATA_DIR, '../../../../shared/data/ofac-sdn-2021'))
t.test('the full 2021 SDN list loads and screens', { skip: existsSync(join(fullDir, 'sdn.csv')) ? false : `no full list at ${fullDir} (set OFAC_FULL_DIR)` }, async (t) => {
  const { entries: all, datasets: ds } = await loadDataDir(fullDir)
  t.equal(ds[0]?.records, 8976)
  const big = new ScreeningIndex(all, { countryMatches: sameCountry })
  t.ok(big.nameCount > 20_000)
  t.equal(big.screen({ name: 'Banco Nacional de Cuba' })[0]?.id, '306')
  t.same(big.screen({ name: 'Acme Widgets Ltd' }), [])
})
