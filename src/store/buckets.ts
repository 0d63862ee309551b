import { DateTime, IANAZone } from 'luxon'
import { StoreInputError } from './errors.js'
import type { Granularity } from './types.js'

/** Most buckets one time series request may produce. */
export const MAX_BUCKETS = 10_000

const UNIT = {
  MINUTE: 'minute',
  HOUR: 'hour',
  DAY: 'day',
  WEEK: 'week', // luxon weeks are ISO weeks: they start on Monday
  MONTH: 'month',
} as const

/** Zones already found valid (luxon builds an Intl formatter to check one). */
const VALID_ZONES = new Set<string>()

export function assertTimezone(timezone: string): void {
  if (VALID_ZONES.has(timezone)) return
  if (!IANAZone.isValidZone(timezone)) throw new StoreInputError(`unknown timezone "${timezone}"`)
  if (VALID_ZONES.size < 1000) VALID_ZONES.add(timezone)
}

export function assertRange(from: Date, to: Date): void {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new StoreInputError('invalid time range')
  if (from.getTime() >= to.getTime()) throw new StoreInputError('"from" must be before "to"')
}

/** Start of the bucket containing `instant`, in `timezone`: the last of bucketStarts not after it. */
export function bucketStart(instant: Date, granularity: Granularity, timezone: string): Date {
  const unit = UNIT[granularity]
  // startOf alone can land a bucket early: after Chatham's fall back, 02:50 local is in the
  // bucket that began at 03:00 before the change, not in the earlier 02:00 one.
  let start: DateTime = DateTime.fromJSDate(instant, { zone: timezone }).startOf(unit)
  for (let next = nextStart(start, unit); next.toMillis() <= instant.getTime(); next = nextStart(next, unit)) start = next
  return start.toJSDate()
}

/**
 * Every bucket start from the bucket containing `from` to the one containing `to - 1ms`.
 * Throws StoreInputError for an unknown timezone, a reversed range or more than MAX_BUCKETS.
 */
export function bucketStarts(from: Date, to: Date, granularity: Granularity, timezone: string): Date[] {
  assertTimezone(timezone)
  assertRange(from, to)
  const unit = UNIT[granularity]
  const zone = IANAZone.create(timezone)
  const lastMs = bucketStart(new Date(to.getTime() - 1), granularity, timezone).getTime()
  const out: Date[] = []
  let cursor = bucketStart(from, granularity, timezone).getTime()
  const step = FIXED_MS[granularity]
  const horizon = step === undefined ? 0 : 3 * 86_400_000
  let offset = zone.offset(cursor)
  /** The zone's offset is known to stay `offset` up to this instant. */
  let steadyUntil = -Infinity
  while (cursor <= lastMs) {
    if (out.length === MAX_BUCKETS) {
      throw new StoreInputError(
        `the range holds more than ${MAX_BUCKETS} ${unit} buckets; narrow it or use a coarser granularity`,
      )
    }
    out.push(new Date(cursor))
    // Minutes, hours and days have a fixed length in local time while the zone's offset holds: from a
    // local start, one step in UTC lands on the next one. The offset is checked three days ahead at a
    // time: no IANA zone changes it twice within that (the closest pair, 2000-2040, is a week apart:
    // America/Boa_Vista, October 2000). Only at a change, or for weeks and months, does luxon work the
    // next start out. (An 11-month hourly range took ~0.5 s through
    // luxon alone, all of it blocking the event loop.)
    if (step !== undefined && (cursor + offset * 60_000) % step === 0) {
      const candidate = cursor + step
      if (candidate > steadyUntil) steadyUntil = zone.offset(cursor + horizon) === offset ? cursor + horizon : -Infinity
      if (candidate <= steadyUntil) {
        cursor = candidate
        continue
      }
    }
    cursor = nextStart(DateTime.fromMillis(cursor, { zone: timezone }), unit).toMillis()
    offset = zone.offset(cursor)
    steadyUntil = -Infinity
  }
  return out
}

/** Bucket lengths that are fixed in local time (absent a change of offset). */
const FIXED_MS: Readonly<Partial<Record<Granularity, number>>> = {
  MINUTE: 60_000,
  HOUR: 3_600_000,
  DAY: 86_400_000,
}

/**
 * Advances from a bucket start and snaps again, so DST shifts never skew later buckets. Where a
 * clock change repeats part of an hour (Lord Howe goes back 30 minutes), one unit later can still
 * be in the same bucket, so it keeps adding units until it leaves it.
 */
function nextStart(start: DateTime, unit: (typeof UNIT)[Granularity]): DateTime {
  for (let n = 1; ; n++) {
    const next = start.plus({ [unit]: n }).startOf(unit)
    if (next > start) return next
  }
}

/** Start of the bucket after the one starting at `start`: the end of that bucket. */
export function bucketEnd(start: Date, granularity: Granularity, timezone: string): Date {
  const unit = UNIT[granularity]
  return nextStart(DateTime.fromJSDate(start, { zone: timezone }), unit).toJSDate()
}

/** Lays rows keyed by bucket start (ms) onto every bucket, with `empty` where nothing was counted. */
export function zeroFill<T>(starts: readonly Date[], rows: ReadonlyMap<number, T>, empty: T): Array<{ start: Date; value: T }> {
  return starts.map((start) => ({ start, value: rows.get(start.getTime()) ?? empty }))
}
