import { DateTime, IANAZone } from 'luxon'

/** A request parameter Sightline cannot use: answered 400 with the message. */
export class ParamError extends Error {
  override name = 'ParamError'
}

/** Parameters that steer the transport, never a pipe's filters. */
const RESERVED = new Set(['token', 'q'])

/**
 * A pipe's query parameters with Tinybird's string conventions: an empty value is absent, `'all'`
 * means no filter, `'1'` means true. Parameters a pipe does not know are ignored, as Tinybird does.
 */
export class PipeParams {
  constructor(private readonly search: URLSearchParams) {}

  /** The first non-empty value among `names` (a parameter and its aliases). */
  text(names: readonly string[]): string | undefined {
    for (const name of names) {
      if (RESERVED.has(name)) continue
      const value = this.search.get(name)
      if (value !== null && value !== '') return value
    }
    return undefined
  }

  /** Like `text`, with `'all'` meaning no filter. */
  filter(names: readonly string[]): string | undefined {
    const value = this.text(names)
    return value === undefined || value.toLowerCase() === 'all' ? undefined : value
  }

  /** `'1'` (Tinybird's convention) or `'true'`. */
  flag(name: string): boolean {
    const value = this.text([name])?.toLowerCase()
    return value === '1' || value === 'true'
  }

  required(names: readonly string[], type = 'String'): string {
    const value = this.text(names)
    if (value === undefined) throw new ParamError(`${names[0]} (${type}) query param is required`)
    return value
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.text([name])
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ParamError(`${name} must be an integer between ${min} and ${max}`)
    }
    return Number(raw)
  }

  /** One of `values` (case-insensitive), or `fallback` when absent. */
  choice<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.text([name])
    if (raw === undefined) return fallback
    const found = values.find((v) => v.toLowerCase() === raw.toLowerCase())
    if (found === undefined) throw new ParamError(`${name} must be one of ${values.map((v) => v.toLowerCase()).join(', ')}`)
    return found
  }

  /** An IANA time zone, `UTC` by default. */
  timezone(name = 'timezone'): string {
    const zone = this.text([name]) ?? 'UTC'
    if (!IANAZone.isValidZone(zone)) throw new ParamError(`${name} "${zone}" is not a known IANA time zone`)
    return zone
  }

  /**
   * An instant as an ISO-8601 UTC string. Accepts ISO-8601 and ClickHouse's `YYYY-MM-DD hh:mm:ss`
   * (with or without fraction), a bare date, or unix seconds; without an offset the time is read in `zone`.
   */
  instant(names: readonly string[], zone: string): string | undefined {
    const raw = this.text(names)
    if (raw === undefined) return undefined
    const iso = parseInstant(raw, zone)
    if (iso === undefined) throw new ParamError(`${names[0]} "${raw}" is not a date-time (use YYYY-MM-DD hh:mm:ss or ISO-8601)`)
    return iso
  }
}

/**
 * A date-time as ClickHouse reads one at its best effort: ISO-8601, `YYYY-MM-DD hh:mm:ss[.fff]`, a bare
 * date, or unix seconds; without an offset the time is read in `zone`. ISO-8601 in UTC, or undefined.
 */
export function parseInstant(raw: string | number, zone: string): string | undefined {
  const text = String(raw).trim()
  let parsed = /^\d+(\.\d+)?$/.test(text) ? DateTime.fromMillis(Number(text) * 1000, { zone: 'UTC' }) : DateTime.fromISO(text, { zone })
  if (!parsed.isValid) parsed = DateTime.fromSQL(text, { zone })
  if (!parsed.isValid || parsed.year < 1 || parsed.year > 9999) return undefined
  return parsed.toUTC().toISO() ?? undefined
}

/**
 * ClickHouse's text form of a DateTime in `zone`, as Tinybird returns it. In-process results carry the
 * DateTime scalar as a Date (it becomes ISO text only when serialized), so both are read.
 */
export function chDateTime(value: unknown, zone: string): string {
  const instant = value instanceof Date ? DateTime.fromJSDate(value) : DateTime.fromISO(String(value), { zone: 'UTC' })
  return instant.setZone(zone).toFormat('yyyy-MM-dd HH:mm:ss')
}
