import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import anyAscii from 'any-ascii'
import countries from 'i18n-iso-countries'

const require = createRequire(import.meta.url)
countries.registerLocale(require('i18n-iso-countries/langs/en.json') as countries.LocaleData)

/** Spellings used by sanctions and risk lists that the ISO name tables do not carry. */
const EXTRA_NAMES: Record<string, string> = {
  'korea north': 'KP',
  'north korea': 'KP',
  'dprk': 'KP',
  'democratic peoples republic of korea': 'KP',
  'korea south': 'KR',
  'south korea': 'KR',
  'burma': 'MM',
  'iran': 'IR',
  'iran islamic republic of': 'IR',
  'islamic republic of iran': 'IR',
  'syria': 'SY',
  'russia': 'RU',
  'laos': 'LA',
  'vietnam': 'VN',
  'congo democratic republic of the': 'CD',
  'democratic republic of the congo': 'CD',
  'drc': 'CD',
  'turkey': 'TR',
  'turkiye': 'TR',
  'venezuela': 'VE',
  'bolivia': 'BO',
  'tanzania': 'TZ',
  'moldova': 'MD',
  'palestine': 'PS',
  'west bank': 'PS',
  'gaza': 'PS',
  'crimea region of ukraine': 'UA',
  'uk': 'GB',
  'united kingdom': 'GB',
  'usa': 'US',
  'united states': 'US'
}

function key (name: string): string {
  return anyAscii(name).toLowerCase().replace(/['’]/g, '').replace(/[^a-z0-9]+/g, ' ').trim()
}

const byName = new Map<string, string>()
for (const [alpha2, names] of Object.entries(countries.getNames('en', { select: 'all' }))) {
  for (const n of names as string[]) byName.set(key(n), alpha2)
}
for (const [n, alpha2] of Object.entries(EXTRA_NAMES)) byName.set(n, alpha2)

export interface Country { alpha2: string, alpha3: string, name: string }

/** Resolves ISO alpha-2, alpha-3 or an English name (as the lists spell it) to a country; null when unknown. */
export function resolveCountry (input: string): Country | null {
  const raw = input.trim()
  let alpha2: string | undefined
  if (/^[A-Za-z]{2}$/.test(raw) && countries.isValid(raw.toUpperCase())) alpha2 = raw.toUpperCase()
  else if (/^[A-Za-z]{3}$/.test(raw)) alpha2 = countries.alpha3ToAlpha2(raw.toUpperCase())
  alpha2 ??= byName.get(key(raw))
  if (alpha2 === undefined) return null
  return { alpha2, alpha3: countries.alpha2ToAlpha3(alpha2) as string, name: countries.getName(alpha2, 'en') as string }
}

/** English names of every ISO 3166 country (for completion). */
export function countryNames (): string[] {
  return Object.values(countries.getNames('en', { select: 'official' })).sort()
}

/** Whether two country spellings name the same country. */
export function sameCountry (a: string, b: string): boolean {
  const x = resolveCountry(a)
  const y = resolveCountry(b)
  return x !== null && y !== null ? x.alpha2 === y.alpha2 : key(a) === key(b)
}

interface ListedCountry { iso2: string, iso3: string, name: string, measure?: string }
interface RiskFile {
  fatf: { source: string, plenary: string, asOf: string, callForAction: ListedCountry[], increasedMonitoring: ListedCountry[] }
  euHighRiskThirdCountries: { source: string, asOf: string, annexPointI: ListedCountry[], annexCountermeasures: ListedCountry[] }
}

export interface ListStatus { list: string, status: string, measure?: string, source: string, asOf: string }
export interface CountryRisk {
  country: Country
  riskLevel: 'high' | 'elevated' | 'standard'
  lists: ListStatus[]
  asOf: { fatf: string, eu: string }
  sources: string[]
}

/** FATF and EU jurisdiction lists, answered always with their dates and sources. */
export class CountryRiskLists {
  readonly #data: RiskFile
  constructor (data: RiskFile) {
    if (data?.fatf?.asOf === undefined || data?.euHighRiskThirdCountries?.asOf === undefined) throw new Error('country risk file: expected fatf and euHighRiskThirdCountries with asOf dates')
    this.#data = data
  }

  static async load (file: string): Promise<CountryRiskLists> {
    return new CountryRiskLists(JSON.parse(await readFile(file, 'utf8')) as RiskFile)
  }

  get asOf (): { fatf: string, eu: string } {
    return { fatf: this.#data.fatf.asOf, eu: this.#data.euHighRiskThirdCountries.asOf }
  }

  /** Every listed country of each list, with the list's source and as-of date. */
  lists (): Array<{ list: string, status: string, source: string, asOf: string, countries: Array<{ alpha2: string, name: string, measure?: string }> }> {
    const { fatf, euHighRiskThirdCountries: eu } = this.#data
    const names = (l: ListedCountry[]): Array<{ alpha2: string, name: string, measure?: string }> =>
      l.map((c) => ({ alpha2: c.iso2, name: c.name, ...(c.measure === undefined ? {} : { measure: c.measure }) }))
    return [
      { list: 'FATF', status: 'call_for_action', source: fatf.source, asOf: fatf.asOf, countries: names(fatf.callForAction) },
      { list: 'FATF', status: 'increased_monitoring', source: fatf.source, asOf: fatf.asOf, countries: names(fatf.increasedMonitoring) },
      { list: 'EU', status: 'high_risk_countermeasures', source: eu.source, asOf: eu.asOf, countries: names(eu.annexCountermeasures) },
      { list: 'EU', status: 'high_risk_third_country', source: eu.source, asOf: eu.asOf, countries: names(eu.annexPointI) }
    ]
  }

  assess (country: Country): CountryRisk {
    const { fatf, euHighRiskThirdCountries: eu } = this.#data
    const lists: ListStatus[] = []
    const find = (l: ListedCountry[]): ListedCountry | undefined => l.find((c) => c.iso2 === country.alpha2)
    const cfa = find(fatf.callForAction)
    if (cfa !== undefined) lists.push({ list: 'FATF', status: 'call_for_action', ...(cfa.measure === undefined ? {} : { measure: cfa.measure }), source: fatf.source, asOf: fatf.asOf })
    if (find(fatf.increasedMonitoring) !== undefined) lists.push({ list: 'FATF', status: 'increased_monitoring', source: fatf.source, asOf: fatf.asOf })
    if (find(eu.annexCountermeasures) !== undefined) lists.push({ list: 'EU', status: 'high_risk_countermeasures', source: eu.source, asOf: eu.asOf })
    if (find(eu.annexPointI) !== undefined) lists.push({ list: 'EU', status: 'high_risk_third_country', source: eu.source, asOf: eu.asOf })
    const high = lists.some((l) => l.status === 'call_for_action' || l.status === 'high_risk_countermeasures')
    return {
      country,
      riskLevel: high ? 'high' : lists.length > 0 ? 'elevated' : 'standard',
      lists,
      asOf: this.asOf,
      sources: [fatf.source, eu.source]
    }
  }
}
