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

export function assertTimezone(timezone: string): void {
  if (!IANAZone.isValidZone(timezone)) throw new StoreInputError(`unknown timezone "${timezone}"`)
}

export function assertRange(from: Date, to: Date): void {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new StoreInputError('invalid time range')
  if (from.getTime() >= to.getTime()) throw new StoreInputError('"from" must be before "to"')
}

/** Start of the bucket containing `instant`, in `timezone`. */
export function bucketStart(instant: Date, granularity: Granularity, timezone: string): Date {
  return DateTime.fromJSDate(instant, { zone: timezone }).startOf(UNIT[granularity]).toJSDate()
}

/**
 * Every bucket start from the bucket containing `from` to the one containing `to - 1ms`.
 * Throws StoreInputError for an unknown timezone, a reversed range or more than MAX_BUCKETS.
 */
export function bucketStarts(from: Date, to: Date, granularity: Granularity, timezone: string): Date[] {
  assertTimezone(timezone)
  assertRange(from, to)
  const unit = UNIT[granularity]
  const last = DateTime.fromMillis(to.getTime() - 1, { zone: timezone }).startOf(unit)
  const out: Date[] = []
  let cursor = DateTime.fromJSDate(from, { zone: timezone }).startOf(unit)
  while (cursor <= last) {
    if (out.length === MAX_BUCKETS) {
      throw new StoreInputError(
        `the range holds more than ${MAX_BUCKETS} ${unit} buckets; narrow it or use a coarser granularity`,
      )
    }
    out.push(cursor.toJSDate())
    // Advance from the bucket start and snap again, so DST shifts never skew later buckets.
    cursor = cursor.plus({ [unit]: 1 }).startOf(unit)
  }
  return out
}

/** True when the zone's offset is a whole number of hours at both ends of the range. */
export function wholeHourOffsets(timezone: string, from: Date, to: Date): boolean {
  return [from, to].every((d) => DateTime.fromJSDate(d, { zone: timezone }).offset % 60 === 0)
}

/** Lays rows keyed by bucket start (ms) onto every bucket, with `empty` where nothing was counted. */
export function zeroFill<T>(starts: readonly Date[], rows: ReadonlyMap<number, T>, empty: T): Array<{ start: Date; value: T }> {
  return starts.map((start) => ({ start, value: rows.get(start.getTime()) ?? empty }))
}
