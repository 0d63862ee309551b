import { describe, expect, it } from 'vitest'
import { prng } from '../../src/random.js'
import { fastInstant, instantDate, parseInstant } from '../../src/time/parse-instant.js'

import { luxonInstant } from '../helpers/luxon-instant.js'


/** What the REST API and /v0/events accepted before the fast parser (luxon's fromISO, then fromSQL). */
const reference = (text: string, zone = 'UTC') => luxonInstant(text, zone)

const EDGES = [
  // ISO with T, t or a space; Z, z, offsets; fractions of every length; no seconds; hour only; date only
  '2026-11-22T10:00:00Z', '2026-11-22t10:00:00z', '2026-11-22T10:00:00', '2026-11-22T10:00', '2026-11-22T10', '2026-11-22',
  '2026-11-22T10:00:00.1Z', '2026-11-22T10:00:00.12Z', '2026-11-22T10:00:00.123Z', '2026-11-22T10:00:00.1234Z',
  '2026-11-22T10:00:00.123456789Z', '2026-11-22T10:00:00.999999Z', '2026-11-22T10:00:00,5Z', '2026-11-22T10:00:00.Z',
  '2026-11-22T10:00:00+05:30', '2026-11-22T10:00:00-08:00', '2026-11-22T10:00:00+0530', '2026-11-22T10:00:00+05',
  '2026-11-22T10:00:00-00:00', '2026-11-22T10:00:00+14:00', '2026-11-22T10:00:00+25:00', '2026-11-22T10:00:00+05:99',
  '2026-11-22T10:00+01:00', '2026-11-22T10+01:00', '2026-11-22Z', '2026-11-22+01:00',
  // ClickHouse's text form
  '2026-11-22 10:00:00', '2026-11-22 10:00:00.5', '2026-11-22 10:00:00.123456', '2026-11-22 10:00', '2026-11-22 10',
  '2026-11-22 10:00:00Z', '2026-11-22 10:00:00+01:00', '2026-11-22 10:00:00 +01:00', '2026-11-22 10:00:00 Z',
  // invalid dates and times
  '2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2000-02-29T00:00:00Z',
  '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-11-00T00:00:00Z',
  '2026-11-22T24:00:00Z', '2026-11-22T24:00:00', '2026-11-22T24:00:01Z', '2026-11-22T23:60:00Z', '2026-11-22T23:59:60Z',
  '2026-11-22 24:00:00', '2026-02-30 10:00:00',
  // year bounds
  '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '0099-06-01T00:00:00Z', '0100-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z', '9999-12-31T23:00:00-05:00', '+002026-11-22T10:00:00Z',
  // unix seconds
  '1732269600', '1732269600.5', '1732269600.123456', '0', '253402300799', '253402300800', '99999999999999',
  // other ISO forms (luxon's path) and garbage
  '20261122T100000Z', '2026-W47-7', '2026-326', 'yesterday', '', ' 2026-11-22T10:00:00Z ', '2026-11-22T10:00:00 Z', '2026-1-2', '2026-11-22T1:00',
]

describe('parseInstant (fast) answers as luxon did', () => {
  it('on the accepted forms and their edges: invalid dates, hour 24, minute and second 60, fractions, offsets, years, unix seconds', () => {
    for (const text of EDGES) expect(parseInstant(text, 'UTC'), JSON.stringify(text)).toBe(reference(text))
  })

  it('Feb 30 and minute 60 are refused; hour 24:00:00 is the next midnight, as luxon reads it', () => {
    expect(parseInstant('2026-02-30T00:00:00Z', 'UTC')).toBeUndefined()
    expect(parseInstant('2026-11-22T23:60:00Z', 'UTC')).toBeUndefined()
    expect(parseInstant('2026-11-22T24:00:00Z', 'UTC')).toBe('2026-11-23T00:00:00.000Z')
    expect(parseInstant('2026-11-22 10:00:00', 'UTC')).toBe('2026-11-22T10:00:00.000Z')
  })

  it('on 20,000 generated texts, in UTC and another zone', () => {
    const rand = prng(42)
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
    const n = (max: number, width: number) => String(Math.floor(rand() * (max + 1))).padStart(width, '0')
    for (let i = 0; i < 20_000; i++) {
      const date = `${pick(['0000', '0001', '0050', '1999', '2000', '2024', '2026', '2100', '9999', n(9999, 4)])}-${n(13, 2)}-${n(32, 2)}`
      const time = rand() < 0.15 ? '' : `${pick(['T', 't', ' '])}${n(24, 2)}${rand() < 0.1 ? '' : `:${n(60, 2)}${rand() < 0.1 ? '' : `:${n(60, 2)}${rand() < 0.5 ? '' : `${pick(['.', ','])}${n(10 ** Math.ceil(rand() * 9) - 1, 1)}`}`}`}`
      const offset = pick(['', '', 'Z', 'z', `+${n(14, 2)}:${n(59, 2)}`, `-${n(14, 2)}:${n(59, 2)}`, `+${n(23, 2)}${n(59, 2)}`, `-${n(12, 2)}`, ' +01:00'])
      const text = `${date}${time}${offset}`
      expect(parseInstant(text, 'UTC'), JSON.stringify(text)).toBe(reference(text))
      if (i % 10 === 0) expect(parseInstant(text, 'Asia/Kolkata'), `${JSON.stringify(text)} in Asia/Kolkata`).toBe(reference(text, 'Asia/Kolkata'))
    }
    for (let i = 0; i < 2_000; i++) {
      const text = rand() < 0.5 ? String(Math.floor(rand() * 3e11)) : (rand() * 3e11).toFixed(Math.ceil(rand() * 6))
      expect(parseInstant(text, 'UTC'), text).toBe(reference(text))
    }
  })

  it('on 20,000 texts of the two forms the ingest hot path reads by character codes (ISO with Z, ClickHouse text)', () => {
    const rand = prng(7)
    const n = (max: number, width: number) => String(Math.floor(rand() * (max + 1))).padStart(width, '0')
    for (let i = 0; i < 20_000; i++) {
      const year = rand() < 0.05 ? n(9999, 4) : String(1990 + Math.floor(rand() * 120))
      const fraction = rand() < 0.5 ? '' : `.${n(999, 3)}`
      const clock = `${n(rand() < 0.02 ? 25 : 23, 2)}:${n(rand() < 0.02 ? 60 : 59, 2)}:${n(rand() < 0.02 ? 60 : 59, 2)}${fraction}`
      const date = `${year}-${n(rand() < 0.05 ? 13 : 12, 2)}-${n(rand() < 0.1 ? 32 : 28, 2)}`
      const text = rand() < 0.5 ? `${date}T${clock}Z` : `${date} ${clock}`
      expect(parseInstant(text, 'UTC'), JSON.stringify(text)).toBe(reference(text))
    }
  })

  it('reads the common forms without luxon', () => {
    for (const text of ['2026-11-22T10:00:00Z', '2026-11-22T10:00:00.123+01:00', '2026-11-22 10:00:00', '2026-11-22T10:00:00', '1732269600', '2026-02-30T00:00:00Z']) {
      expect(fastInstant(text, 'UTC'), text).not.toBeUndefined()
    }
  })
})

describe('instantDate (the DateTime scalar)', () => {
  it('reads RFC 3339 with any offset and refuses dates that do not exist', () => {
    expect(instantDate('2026-11-22T10:00:00.123+01:00')?.toISOString()).toBe('2026-11-22T09:00:00.123Z')
    expect(instantDate('2026-11-22 10:00:00Z')?.toISOString()).toBe('2026-11-22T10:00:00.000Z')
    expect(instantDate('2026-11-22t10:00:00z')?.toISOString()).toBe('2026-11-22T10:00:00.000Z')
    expect(instantDate('2024-02-29T00:00:00Z')?.toISOString()).toBe('2024-02-29T00:00:00.000Z')
    expect(instantDate('2026-02-30T00:00:00Z')).toBeUndefined()
    expect(instantDate('2026-11-22T23:59:60Z')).toBeUndefined()
    expect(instantDate('2026-11-22T24:00:00Z')?.toISOString()).toBe('2026-11-23T00:00:00.000Z')
  })
})
