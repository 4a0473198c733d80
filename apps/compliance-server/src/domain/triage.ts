import type { SanctionsEntry } from './types.js'
import { nameTokens } from '../screening/normalize.js'
import { sameCountry } from './countries.js'

/**
 * The steps follow OFAC's published guidance for judging a potential match ("How do I determine if I
 * have a valid match?", OFAC FAQ 5): check the list, how much of the name matches, compare the
 * complete entry (type, dates of birth, nationality/addresses, identifiers), weigh the similarities,
 * and escalate what remains a match. A suggestion, never a determination.
 */
export const TRIAGE_METHOD = {
  source: 'U.S. Treasury OFAC, Frequently Asked Questions, No. 5: "How do I determine if I have a valid match?"',
  steps: ['list', 'name_match', 'entry_type', 'birth_date', 'country', 'identifiers', 'conclusion']
} as const

export type Suggestion = 'probable_false_positive' | 'investigate' | 'escalate'

export interface TriageSubject {
  name: string
  type?: string | undefined
  birthDate?: string | undefined
  country?: string | undefined
  identifiers?: string[] | undefined
}

export interface TriageHit { source: string, id: string, matchedName: string, score: number }

export interface TriageResult {
  suggestion: Suggestion
  reasons: string[]
  steps: Array<{ step: string, outcome: 'match' | 'mismatch' | 'unknown' | 'partial' | 'info', note: string }>
}

/** Weighs a screening hit against what is known of the subject. */
export function triageAlert (hit: TriageHit, entry: SanctionsEntry | undefined, subject: TriageSubject): TriageResult {
  const steps: TriageResult['steps'] = []
  const reasons: string[] = []
  let conflicts = 0
  let confirmations = 0
  steps.push(entry === undefined
    ? { step: 'list', outcome: 'unknown', note: `entry ${hit.source} ${hit.id} is not in the loaded lists` }
    : { step: 'list', outcome: 'info', note: `${entry.source} entry ${entry.id}, programs ${entry.programs.join(', ') || 'none'}` })

  const subjectTokens = nameTokens(subject.name)
  const singleToken = subjectTokens.length === 1 || nameTokens(hit.matchedName).length === 1
  if (hit.score >= 0.97 && !singleToken) {
    steps.push({ step: 'name_match', outcome: 'match', note: `full-name match, score ${hit.score}` })
  } else {
    steps.push({ step: 'name_match', outcome: 'partial', note: singleToken ? 'only a single name part matches' : `partial name match, score ${hit.score}` })
    if (singleToken) reasons.push('only one part of the name matches')
  }

  if (entry !== undefined && subject.type !== undefined) {
    if (subject.type === entry.type) {
      steps.push({ step: 'entry_type', outcome: 'match', note: `both are ${entry.type}` })
    } else {
      conflicts += 2
      steps.push({ step: 'entry_type', outcome: 'mismatch', note: `subject is ${subject.type}, entry is ${entry.type}` })
      reasons.push(`the listed party is ${entry.type === 'individual' ? 'an individual' : `an ${entry.type}`}, the subject is not`)
    }
  } else {
    steps.push({ step: 'entry_type', outcome: 'unknown', note: 'type not given' })
  }

  if (entry !== undefined && subject.birthDate !== undefined && entry.birthDates.length > 0) {
    const exact = entry.birthDates.includes(subject.birthDate)
    const year = entry.birthDates.some((d) => d.slice(0, 4) === subject.birthDate?.slice(0, 4))
    if (exact || year) {
      confirmations++
      steps.push({ step: 'birth_date', outcome: 'match', note: exact ? 'same date of birth' : 'same year of birth' })
      reasons.push(exact ? 'date of birth matches the listing' : 'year of birth matches the listing')
    } else {
      conflicts += 2
      steps.push({ step: 'birth_date', outcome: 'mismatch', note: `listed ${entry.birthDates.join(', ')}, subject ${subject.birthDate}` })
      reasons.push('date of birth differs from every listed date')
    }
  } else {
    steps.push({ step: 'birth_date', outcome: 'unknown', note: 'no date to compare' })
  }

  if (entry !== undefined && subject.country !== undefined && entry.countries.length > 0) {
    if (entry.countries.some((c) => sameCountry(subject.country as string, c))) {
      confirmations++
      steps.push({ step: 'country', outcome: 'match', note: `listed countries include ${subject.country}` })
      reasons.push('country matches the listing')
    } else {
      conflicts++
      steps.push({ step: 'country', outcome: 'mismatch', note: `listed ${entry.countries.join(', ')}` })
      reasons.push('country differs from the listing')
    }
  } else {
    steps.push({ step: 'country', outcome: 'unknown', note: 'no country to compare' })
  }

  const known = new Set((entry?.identifiers ?? []).map((i) => i.value.toUpperCase()))
  const shared = (subject.identifiers ?? []).filter((i) => known.has(i.replace(/\s/g, '').toUpperCase()))
  if (shared.length > 0) {
    confirmations += 3
    steps.push({ step: 'identifiers', outcome: 'match', note: `shared identifiers: ${shared.join(', ')}` })
    reasons.push('an identifier matches the listing exactly')
  } else {
    steps.push({ step: 'identifiers', outcome: (subject.identifiers ?? []).length > 0 && known.size > 0 ? 'mismatch' : 'unknown', note: 'no shared identifier' })
  }

  let suggestion: Suggestion
  if (shared.length > 0 || (confirmations >= 2 && conflicts === 0 && hit.score >= 0.9)) suggestion = 'escalate'
  else if (conflicts >= 2 || (singleToken && confirmations === 0) || (conflicts > confirmations && hit.score < 0.92)) suggestion = 'probable_false_positive'
  else suggestion = 'investigate'
  if (suggestion === 'investigate' && reasons.length === 0) reasons.push('the name matches but the entry cannot be confirmed or excluded with what is known')
  steps.push({ step: 'conclusion', outcome: 'info', note: `${suggestion}: a suggestion for the analyst, not a determination` })
  return { suggestion, reasons, steps }
}
