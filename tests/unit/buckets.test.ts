import { DateTime } from 'luxon'
import { describe, expect, it } from 'vitest'
import {
  assertRange,
  assertTimezone,
  bucketStart,
  bucketStarts,
  MAX_BUCKETS,
  zeroFill,
} from '../../src/store/buckets.js'
import { StoreInputError } from '../../src/store/errors.js'

const at = (iso: string) => new Date(iso)
const isos = (dates: readonly Date[]) => dates.map((d) => d.toISOString())
const HOUR = 3_600_000

describe('bucketStarts in UTC', () => {
  it('lists every minute from the one holding `from` to the one holding `to - 1ms`', () => {
    expect(isos(bucketStarts(at('2026-01-01T00:00:30Z'), at('2026-01-01T00:03:00Z'), 'MINUTE', 'UTC'))).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:01:00.000Z',
      '2026-01-01T00:02:00.000Z',
    ])
  })

  it('treats `to` on a bucket boundary as exclusive, and one millisecond past it as inclusive', () => {
    const from = at('2026-01-01T10:00:00Z')
    expect(isos(bucketStarts(from, at('2026-01-01T12:00:00Z'), 'HOUR', 'UTC'))).toEqual([
      '2026-01-01T10:00:00.000Z',
      '2026-01-01T11:00:00.000Z',
    ])
    expect(isos(bucketStarts(from, at('2026-01-01T12:00:00.001Z'), 'HOUR', 'UTC'))).toEqual([
      '2026-01-01T10:00:00.000Z',
      '2026-01-01T11:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
    ])
  })

  it('gives one bucket for a range inside a single bucket', () => {
    expect(isos(bucketStarts(at('2026-01-01T10:15:00Z'), at('2026-01-01T10:16:00Z'), 'HOUR', 'UTC'))).toEqual([
      '2026-01-01T10:00:00.000Z',
    ])
    expect(isos(bucketStarts(at('2026-01-01T10:15:00Z'), at('2026-01-01T10:15:00.001Z'), 'DAY', 'UTC'))).toEqual([
      '2026-01-01T00:00:00.000Z',
    ])
  })

  it('aligns days to midnight', () => {
    expect(isos(bucketStarts(at('2026-02-27T18:00:00Z'), at('2026-03-02T00:00:00Z'), 'DAY', 'UTC'))).toEqual([
      '2026-02-27T00:00:00.000Z',
      '2026-02-28T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ])
  })

  it('starts weeks on Monday', () => {
    // 2026-01-01 is a Thursday; its week began on Monday 2025-12-29.
    const starts = bucketStarts(at('2026-01-01T12:00:00Z'), at('2026-01-20T00:00:00Z'), 'WEEK', 'UTC')
    expect(isos(starts)).toEqual([
      '2025-12-29T00:00:00.000Z',
      '2026-01-05T00:00:00.000Z',
      '2026-01-12T00:00:00.000Z',
      '2026-01-19T00:00:00.000Z',
    ])
    for (const s of starts) expect(s.getUTCDay()).toBe(1)
  })

  it('a Sunday belongs to the week of the Monday before it, a Monday starts a new one', () => {
    expect(bucketStart(at('2026-03-29T23:59:59.999Z'), 'WEEK', 'UTC').toISOString()).toBe('2026-03-23T00:00:00.000Z')
    expect(bucketStart(at('2026-03-30T00:00:00Z'), 'WEEK', 'UTC').toISOString()).toBe('2026-03-30T00:00:00.000Z')
  })

  it('follows month lengths, leap years and year ends', () => {
    expect(isos(bucketStarts(at('2023-12-15T00:00:00Z'), at('2024-04-01T00:00:00Z'), 'MONTH', 'UTC'))).toEqual([
      '2023-12-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ])
    expect(bucketStart(at('2024-02-29T23:59:59.999Z'), 'MONTH', 'UTC').toISOString()).toBe('2024-02-01T00:00:00.000Z')
    expect(bucketStart(at('2024-03-01T00:00:00Z'), 'MONTH', 'UTC').toISOString()).toBe('2024-03-01T00:00:00.000Z')
    expect(isos(bucketStarts(at('2024-02-28T00:00:00Z'), at('2024-03-02T00:00:00Z'), 'DAY', 'UTC'))).toEqual([
      '2024-02-28T00:00:00.000Z',
      '2024-02-29T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ])
  })
})

describe('bucketStarts across daylight saving changes', () => {
  it('Europe/Paris spring forward: a 23-hour day', () => {
    const starts = bucketStarts(at('2026-03-28T12:00:00Z'), at('2026-03-30T12:00:00Z'), 'DAY', 'Europe/Paris')
    expect(isos(starts)).toEqual([
      '2026-03-27T23:00:00.000Z', // 28 March 00:00 CET
      '2026-03-28T23:00:00.000Z', // 29 March 00:00 CET
      '2026-03-29T22:00:00.000Z', // 30 March 00:00 CEST
    ])
    expect(starts[2]!.getTime() - starts[1]!.getTime()).toBe(23 * HOUR)
  })

  it('Europe/Paris fall back: a 25-hour day', () => {
    const starts = bucketStarts(at('2025-10-25T22:00:00Z'), at('2025-10-27T23:00:00Z'), 'DAY', 'Europe/Paris')
    expect(isos(starts)).toEqual(['2025-10-25T22:00:00.000Z', '2025-10-26T23:00:00.000Z'])
    expect(starts[1]!.getTime() - starts[0]!.getTime()).toBe(25 * HOUR)
  })

  it('Europe/Paris hours: 23 on the spring day, 25 on the autumn day, always one hour apart', () => {
    const spring = bucketStarts(at('2026-03-28T23:00:00Z'), at('2026-03-29T22:00:00Z'), 'HOUR', 'Europe/Paris')
    expect(spring).toHaveLength(23)
    const autumn = bucketStarts(at('2025-10-25T22:00:00Z'), at('2025-10-26T23:00:00Z'), 'HOUR', 'Europe/Paris')
    expect(autumn).toHaveLength(25)
    for (const list of [spring, autumn]) {
      for (let i = 1; i < list.length; i++) expect(list[i]!.getTime() - list[i - 1]!.getTime()).toBe(HOUR)
    }
    // The repeated 02:00 local hour is two buckets: 02:00 CEST and 02:00 CET.
    expect(isos(autumn)).toContain('2025-10-26T00:00:00.000Z')
    expect(isos(autumn)).toContain('2025-10-26T01:00:00.000Z')
  })

  it('America/New_York: 23-hour and 25-hour days', () => {
    const spring = bucketStarts(at('2026-03-07T05:00:00Z'), at('2026-03-10T04:00:00Z'), 'DAY', 'America/New_York')
    expect(isos(spring)).toEqual([
      '2026-03-07T05:00:00.000Z',
      '2026-03-08T05:00:00.000Z',
      '2026-03-09T04:00:00.000Z',
    ])
    const autumn = bucketStarts(at('2026-10-31T04:00:00Z'), at('2026-11-03T05:00:00Z'), 'DAY', 'America/New_York')
    expect(isos(autumn)).toEqual([
      '2026-10-31T04:00:00.000Z',
      '2026-11-01T04:00:00.000Z',
      '2026-11-02T05:00:00.000Z',
    ])
    expect(autumn[2]!.getTime() - autumn[1]!.getTime()).toBe(25 * HOUR)
  })

  it('weeks start on local Monday midnight, whatever the offset', () => {
    expect(isos(bucketStarts(at('2026-03-25T12:00:00Z'), at('2026-04-01T00:00:00Z'), 'WEEK', 'Europe/Paris'))).toEqual([
      '2026-03-22T23:00:00.000Z', // Monday 23 March 00:00 CET
      '2026-03-29T22:00:00.000Z', // Monday 30 March 00:00 CEST
    ])
    // Sunday 23:30 in New York (EDT) is Monday 03:30 UTC: still the week of the previous Monday there.
    expect(bucketStart(at('2026-03-16T03:30:00Z'), 'WEEK', 'America/New_York').toISOString()).toBe(
      '2026-03-09T04:00:00.000Z',
    )
  })

  it('months start on local midnight of the 1st, across offset changes', () => {
    expect(isos(bucketStarts(at('2026-02-15T00:00:00Z'), at('2026-05-01T00:00:00Z'), 'MONTH', 'Europe/Paris'))).toEqual([
      '2026-01-31T23:00:00.000Z',
      '2026-02-28T23:00:00.000Z',
      '2026-03-31T22:00:00.000Z',
      '2026-04-30T22:00:00.000Z', // 1 May 00:00 CEST, before 2026-05-01T00:00Z
    ])
    // 2026-04-30T22:00Z is 1 May 00:00 CEST, so `to` there is exclusive.
    expect(bucketStarts(at('2026-02-15T00:00:00Z'), at('2026-04-30T22:00:00Z'), 'MONTH', 'Europe/Paris')).toHaveLength(3)
    expect(bucketStarts(at('2026-02-15T00:00:00Z'), at('2026-04-30T22:00:00.001Z'), 'MONTH', 'Europe/Paris')).toHaveLength(4)
  })

  it('hours in a zone with a half-hour offset start at :30 UTC', () => {
    expect(isos(bucketStarts(at('2026-01-01T00:00:00Z'), at('2026-01-01T02:00:00Z'), 'HOUR', 'Asia/Kolkata'))).toEqual([
      '2025-12-31T23:30:00.000Z',
      '2026-01-01T00:30:00.000Z',
      '2026-01-01T01:30:00.000Z',
    ])
  })
})

describe('bucketStarts limits and input errors', () => {
  const from = at('2026-01-01T00:00:00Z')

  it(`allows exactly ${MAX_BUCKETS} buckets and refuses one more`, () => {
    expect(MAX_BUCKETS).toBe(10_000)
    const to = new Date(from.getTime() + MAX_BUCKETS * 60_000)
    const starts = bucketStarts(from, to, 'MINUTE', 'UTC')
    expect(starts).toHaveLength(MAX_BUCKETS)
    expect(starts.at(-1)!.getTime()).toBe(to.getTime() - 60_000)
    expect(() => bucketStarts(from, new Date(to.getTime() + 1), 'MINUTE', 'UTC')).toThrow(StoreInputError)
    expect(() => bucketStarts(from, new Date(to.getTime() + 1), 'MINUTE', 'UTC')).toThrow(/10000/)
  })

  it('refuses a reversed, empty or invalid range', () => {
    expect(() => bucketStarts(at('2026-01-02T00:00:00Z'), from, 'DAY', 'UTC')).toThrow(StoreInputError)
    expect(() => bucketStarts(from, from, 'DAY', 'UTC')).toThrow(StoreInputError)
    expect(() => bucketStarts(new Date(Number.NaN), from, 'DAY', 'UTC')).toThrow(StoreInputError)
    expect(() => assertRange(from, new Date('nope'))).toThrow(StoreInputError)
    expect(() => assertRange(from, new Date(from.getTime() + 1))).not.toThrow()
  })

  it('refuses an unknown timezone and accepts IANA names', () => {
    expect(() => bucketStarts(from, at('2026-01-02T00:00:00Z'), 'DAY', 'Mars/Olympus_Mons')).toThrow(StoreInputError)
    expect(() => assertTimezone('not a zone')).toThrow(/not a zone/)
    expect(() => assertTimezone('Europe/Paris')).not.toThrow()
    expect(() => assertTimezone('UTC')).not.toThrow()
  })
})

describe('zeroFill', () => {
  it('puts every start in order, with the empty value where no row matched', () => {
    const starts = [at('2026-01-01T00:00:00Z'), at('2026-01-01T01:00:00Z'), at('2026-01-01T02:00:00Z')]
    const rows = new Map([[starts[1]!.getTime(), 5]])
    expect(zeroFill(starts, rows, 0)).toEqual([
      { start: starts[0], value: 0 },
      { start: starts[1], value: 5 },
      { start: starts[2], value: 0 },
    ])
  })
})

describe('zones whose clocks change by 30 minutes or across the hour', () => {
  it('Lord Howe spring forward (02:00 → 02:30): hour 02 starts when the gap ends and lasts 30 minutes', () => {
    expect(isos(bucketStarts(at('2025-10-04T13:30:00Z'), at('2025-10-04T17:00:00Z'), 'HOUR', 'Australia/Lord_Howe'))).toEqual([
      '2025-10-04T13:30:00.000Z', // 00:00 +10:30
      '2025-10-04T14:30:00.000Z', // 01:00 +10:30
      '2025-10-04T15:30:00.000Z', // 02:30 +11, the first instant of hour 02
      '2025-10-04T16:00:00.000Z', // 03:00 +11
    ])
  })

  it('Lord Howe fall back (02:00 → 01:30): hour 01 lasts 90 minutes, and the walk ends', () => {
    expect(isos(bucketStarts(at('2026-04-04T13:00:00Z'), at('2026-04-04T17:00:00Z'), 'HOUR', 'Australia/Lord_Howe'))).toEqual([
      '2026-04-04T13:00:00.000Z', // 00:00 +11
      '2026-04-04T14:00:00.000Z', // 01:00 +11, through 01:30–02:00 twice
      '2026-04-04T15:30:00.000Z', // 02:00 +10:30
      '2026-04-04T16:30:00.000Z',
    ])
    expect(bucketStart(at('2026-04-04T15:10:00Z'), 'HOUR', 'Australia/Lord_Howe').toISOString()).toBe('2026-04-04T14:00:00.000Z')
  })

  it('Chatham fall back (03:45 → 02:45): the repeated quarter hour stays in the 03:00 bucket', () => {
    expect(isos(bucketStarts(at('2025-04-05T12:15:00Z'), at('2025-04-05T15:00:00Z'), 'HOUR', 'Pacific/Chatham'))).toEqual([
      '2025-04-05T12:15:00.000Z', // 02:00 +13:45
      '2025-04-05T13:15:00.000Z', // 03:00 +13:45, then 02:45–03:00 +12:45
      '2025-04-05T14:15:00.000Z', // 03:00 +12:45
    ])
    expect(bucketStart(at('2025-04-05T14:05:00Z'), 'HOUR', 'Pacific/Chatham').toISOString()).toBe('2025-04-05T13:15:00.000Z')
  })

  it('bucketStart is always the last of bucketStarts not after the instant', () => {
    const cases = [
      ['Australia/Lord_Howe', '2025-10-04T00:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T00:00:00Z'],
      ['Pacific/Chatham', '2025-04-05T00:00:00Z'],
      ['Europe/Paris', '2025-10-25T12:00:00Z'],
      ['America/Santiago', '2025-04-05T12:00:00Z'],
      ['America/Santiago', '2025-09-06T12:00:00Z'],
    ] as const
    for (const [zone, iso] of cases) {
      const from = at(iso)
      const to = new Date(from.getTime() + 2 * 24 * HOUR)
      for (const granularity of ['HOUR', 'DAY'] as const) {
        const starts = bucketStarts(from, to, granularity, zone).map((d) => d.getTime())
        for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThan(starts[i - 1]!)
        for (let t = starts[0]!; t < to.getTime(); t += 7.5 * 60_000) {
          const expected = starts.filter((s) => s <= t).at(-1)
          const label = `${zone} ${granularity} ${new Date(t).toISOString()}`
          expect(bucketStart(new Date(t), granularity, zone).getTime(), label).toBe(expected)
        }
      }
    }
  })
})

describe('range ends inside a repeated quarter hour', () => {
  it('starts at, and ends with, the buckets that hold `from` and `to - 1ms`', () => {
    // 14:05Z is 02:50 +12:45 in Chatham, inside the bucket that began at 03:00 +13:45 (13:15Z).
    expect(isos(bucketStarts(at('2025-04-05T14:05:00Z'), at('2025-04-05T14:10:00Z'), 'HOUR', 'Pacific/Chatham'))).toEqual([
      '2025-04-05T13:15:00.000Z',
    ])
    expect(isos(bucketStarts(at('2025-04-05T12:30:00Z'), at('2025-04-05T14:10:00Z'), 'HOUR', 'Pacific/Chatham'))).toEqual([
      '2025-04-05T12:15:00.000Z',
      '2025-04-05T13:15:00.000Z',
    ])
  })
})

describe('bucketStarts agrees with a walk through luxon, bucket by bucket', () => {
  /** The reference: every start from luxon's startOf/plus, snapping forward past repeated local time. */
  function reference(from: Date, to: Date, granularity: 'MINUTE' | 'HOUR' | 'DAY', zone: string): number[] {
    const unit = granularity.toLowerCase() as 'minute' | 'hour' | 'day'
    const next = (d: DateTime): DateTime => {
      for (let n = 1; ; n++) {
        const candidate = d.plus({ [unit]: n }).startOf(unit)
        if (candidate > d) return candidate
      }
    }
    const out: number[] = []
    const last = bucketStart(new Date(to.getTime() - 1), granularity, zone).getTime()
    for (let d: DateTime = DateTime.fromJSDate(bucketStart(from, granularity, zone), { zone }); d.toMillis() <= last; d = next(d)) out.push(d.toMillis())
    return out
  }

  it.each([
    ['America/Boa_Vista', '2000-10-01T00:00:00Z', '2000-10-25T00:00:00Z', 'HOUR'], // DST for one week only
    ['America/Boa_Vista', '2000-10-10T00:00:00Z', '2000-10-16T12:00:00Z', 'MINUTE'],
    ['Pacific/Apia', '2011-12-20T00:00:00Z', '2012-01-05T00:00:00Z', 'HOUR'], // a skipped day
    ['Pacific/Apia', '2011-12-20T00:00:00Z', '2012-01-05T00:00:00Z', 'DAY'],
    ['Africa/Casablanca', '2019-04-01T00:00:00Z', '2019-07-01T00:00:00Z', 'HOUR'], // DST suspended for Ramadan
    ['Australia/Lord_Howe', '2024-09-25T00:00:00Z', '2025-04-15T00:00:00Z', 'HOUR'], // 30-minute changes
    ['Asia/Kolkata', '2025-01-01T00:00:00Z', '2025-12-01T00:00:00Z', 'HOUR'], // a half-hour zone, 11 months
    ['America/New_York', '2000-01-01T00:00:00Z', '2026-11-30T00:00:00Z', 'DAY'],
  ] as const)('%s %s → %s by %s', (zone, from, to, granularity) => {
    const got = bucketStarts(new Date(from), new Date(to), granularity, zone).map((d) => d.getTime())
    expect(got).toEqual(reference(new Date(from), new Date(to), granularity, zone))
  })
})
