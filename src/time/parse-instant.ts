import { DateTime } from 'luxon'

/**
 * `YYYY-MM-DD`, optionally followed by `T`/`t`/space and `hh:mm[:ss[.fraction]]`, optionally followed by
 * `Z`/`z` or an offset `±hh[[:]mm]`: the forms clients send (ISO-8601 and ClickHouse's text). Groups:
 * year, month, day, hour, minute, second, fraction, offset.
 */
const COMMON = /^(\d{4})-(\d{2})-(\d{2})(?:([Tt ])(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,30}))?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/
const UNIX = /^\d+(\.\d+)?$/

/**
 * A date-time as ClickHouse reads one at its best effort — ISO-8601, `YYYY-MM-DD hh:mm:ss[.fff]`, a bare date,
 * or unix seconds; without an offset the time is read in `zone` — as ISO-8601 in UTC with milliseconds, or
 * undefined when it is not a real instant (February 30, minute 60) or its year is outside 1–9999.
 *
 * The same answers as luxon's `fromISO` then `fromSQL` (tests/unit/parse-instant.test.ts compares them), at a
 * fraction of the cost: the common forms in UTC or with an offset are read with one regular expression and
 * calendar arithmetic; anything else (ISO week or ordinal dates, basic format, hour 24, other zones) goes to
 * luxon. Fractions past milliseconds are cut, as luxon does.
 */
export function parseInstant(raw: string | number, zone: string): string | undefined {
  const text = String(raw).trim()
  const ms = fastInstant(text, zone)
  if (ms !== undefined) return ms === null ? undefined : new Date(ms).toISOString()
  return viaLuxon(text, zone)
}

/**
 * Epoch milliseconds of the common forms; null when such a text is not a real instant; undefined when the
 * text is not one of them (or needs luxon: another zone, hour 24, years before 100). Exported for tests.
 */
export function fastInstant(text: string, zone: string): number | null | undefined {
  if (zone === 'UTC') {
    const ms = canonicalInstant(text)
    if (ms !== undefined) return ms
  }
  if (UNIX.test(text)) {
    const ms = Number(text) * 1000
    if (!Number.isInteger(ms) || ms > MAX_MS) return undefined
    return ms
  }
  const m = COMMON.exec(text)
  if (!m) return undefined
  const offsetText = m[9]
  // A space before the time is ClickHouse's form (luxon's fromSQL): it takes no `Z` and no time-less offset.
  if (m[4] === ' ' && offsetText !== undefined && /^[Zz]$/.test(offsetText)) return undefined
  if (m[4] === undefined && offsetText !== undefined) return undefined
  if (offsetText === undefined && zone !== 'UTC') return undefined
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = m[5] === undefined ? 0 : Number(m[5])
  const minute = m[6] === undefined ? 0 : Number(m[6])
  const second = m[7] === undefined ? 0 : Number(m[7])
  if (year < 100 || hour === 24) return undefined
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return null
  const millis = m[8] === undefined ? 0 : Math.floor(parseFloat(`0.${m[8]}`) * 1000)
  let offset = 0
  if (offsetText !== undefined && !/^[Zz]$/.test(offsetText)) {
    const digits = offsetText.slice(1).replace(':', '')
    const minutes = Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2)) : 0)
    offset = offsetText[0] === '-' ? -minutes : minutes
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000
  // The instant in UTC must stay within years 1–9999, as the luxon path checks.
  return ms < MIN_MS || ms > MAX_MS ? null : ms
}

/** `Math.floor(parseFloat('0.' + digits) * 1000)` for every three-digit fraction, as the general path computes it. */
const MILLIS: readonly number[] = Array.from({ length: 1000 }, (_, i) => Math.floor(parseFloat(`0.${String(i).padStart(3, '0')}`) * 1000))

/** The value of the two ASCII digits at `at`, or -1. */
function two(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48
  const b = text.charCodeAt(at + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/**
 * The two forms nearly every client sends, read by character codes with no regular expression: ISO's
 * `YYYY-MM-DDThh:mm:ss[.fff]Z` and ClickHouse's `YYYY-MM-DD hh:mm:ss[.fff]` (UTC). Epoch milliseconds, null
 * when not a real instant, undefined for any other text (the general path reads it, with the same answer
 * for these). On the ingest hot path: one call per row.
 */
function canonicalInstant(text: string): number | null | undefined {
  const n = text.length
  if (n !== 19 && n !== 20 && n !== 23 && n !== 24) return undefined
  const sep = text.charCodeAt(10)
  const iso = sep === 84 /* T */
  if (!iso && sep !== 32 /* space */) return undefined
  // ISO ends in Z (20 or 24 characters); ClickHouse's form has no zone (19 or 23).
  if (iso !== (n === 20 || n === 24)) return undefined
  if (iso && text.charCodeAt(n - 1) !== 90 /* Z */) return undefined
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined
  const century = two(text, 0)
  const yy = two(text, 2)
  const month = two(text, 5)
  const day = two(text, 8)
  const hour = two(text, 11)
  const minute = two(text, 14)
  const second = two(text, 17)
  if (century < 0 || yy < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined
  let millis = 0
  if (n >= 23) {
    if (text.charCodeAt(19) !== 46 /* . */) return undefined
    const c = text.charCodeAt(22) - 48
    const ab = two(text, 20)
    if (ab < 0 || c < 0 || c > 9) return undefined
    millis = MILLIS[ab * 10 + c] as number
  }
  const year = century * 100 + yy
  if (year < 100 || hour === 24) return undefined
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return null
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis)
  return ms < MIN_MS || ms > MAX_MS ? null : ms
}

const MIN_MS = new Date('0001-01-01T00:00:00.000Z').getTime()
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime()

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** The general path: luxon's ISO reader, then its SQL reader. */
function viaLuxon(text: string, zone: string): string | undefined {
  let parsed = UNIX.test(text) ? DateTime.fromMillis(Number(text) * 1000, { zone: 'UTC' }) : DateTime.fromISO(text, { zone })
  if (!parsed.isValid) parsed = DateTime.fromSQL(text, { zone })
  if (!parsed.isValid || parsed.year < 1 || parsed.year > 9999) return undefined
  return parsed.toUTC().toISO() ?? undefined
}

/**
 * The instant `text` names, read as `parseInstant` reads it (in UTC when it has no offset; RFC 3339's space
 * for `T` is allowed with an offset too), or undefined. The GraphQL DateTime scalar's reader.
 */
export function instantDate(text: string): Date | undefined {
  const trimmed = text.trim()
  const iso = trimmed.length > 11 && trimmed[10] === ' ' ? `${trimmed.slice(0, 10)}T${trimmed.slice(11)}` : trimmed
  const ms = fastInstant(iso, 'UTC')
  if (ms === null) return undefined
  if (ms !== undefined) return new Date(ms)
  const slow = viaLuxon(iso, 'UTC')
  return slow === undefined ? undefined : new Date(slow)
}
