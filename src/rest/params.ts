import type { IncomingMessage } from 'node:http'
import { DateTime, IANAZone } from 'luxon'
import { parseInstant } from '../time/parse-instant.js'

/** A request parameter Sightline cannot use: answered 400 with the message. */
export class ParamError extends Error {
  override name = 'ParamError'
}

/**
 * Tinybird's reserved request parameters (TINYBIRD.md §6.1): they steer the transport and never reach a
 * pipe, whatever the pipe declares. `from` is what the official SDKs add (`from=ts-sdk`).
 */
export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'token',
  'from',
  'q',
  'format',
  'output_format_json_quote_64bit_integers',
  'output_format_json_quote_denormals',
  'output_format_parquet_string_as_string',
  'pipeline',
  'debug',
  'explain',
  'query_id',
  'tag',
  'playground',
  'finalize_aggregations',
  'release_replacements',
  'template_parameters',
])

/**
 * A pipe's request parameters with Tinybird's string conventions: an empty value is absent, `'all'`
 * means no filter, `'1'` means true, repeated keys and comma lists make lists. Parameters a pipe does
 * not know are ignored, as Tinybird does.
 */
export class PipeParams {
  constructor(private readonly search: URLSearchParams) {}

  /** Whether any of `names` was given a non-empty value. */
  has(names: readonly string[]): boolean {
    return this.text(names) !== undefined
  }

  /** The first non-empty value among `names` (a parameter and its aliases). */
  text(names: readonly string[]): string | undefined {
    for (const name of names) {
      if (RESERVED_PARAMS.has(name)) continue
      for (const value of this.search.getAll(name)) if (value !== '') return value
    }
    return undefined
  }

  /**
   * Tinybird's `Array(name, 'String')`: every value of every spelling, repeated keys and comma lists
   * alike (`platforms=web,ios&platforms=android`), trimmed, empty items dropped; undefined when none.
   */
  list(names: readonly string[]): string[] | undefined {
    const items = this.listOf(names.filter((name) => !RESERVED_PARAMS.has(name)).flatMap((name) => this.search.getAll(name)))
    return items.length > 0 ? items : undefined
  }

  /** The items of `values`, each a comma list: trimmed, without empties or repeats (possibly none). */
  protected listOf(values: readonly string[]): string[] {
    const items = values.flatMap((value) => value.split(',').map((item) => item.trim()))
    return [...new Set(items.filter((item) => item !== ''))]
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
   * An instant as an ISO-8601 UTC string. Accepts Tinybird's DateTime64 text `YYYY-MM-DD hh:mm:ss[.fff]`,
   * ISO-8601, a bare date, or unix seconds. Without an offset the time is UTC, as the original pipes read
   * it (ClickHouse's `toDateTime64(text, 3)` on a UTC server); `timezone` never shifts it.
   */
  instant(names: readonly string[]): string | undefined {
    const raw = this.text(names)
    if (raw === undefined) return undefined
    const iso = parseInstant(raw, 'UTC')
    if (iso === undefined) throw new ParamError(`${names[0]} "${raw}" is not a date-time (use YYYY-MM-DD hh:mm:ss[.fff] or ISO-8601)`)
    return iso
  }
}

/** A POST body's parameters: a form (`application/x-www-form-urlencoded`) or a JSON object; lists repeat. */
export function bodyParams(contentType: string | undefined, body: string): URLSearchParams {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (body.trim() === '') return new URLSearchParams()
  if (type === 'application/json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      throw new ParamError('The body is not valid JSON')
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ParamError('A JSON body must be an object of parameters')
    const out = new URLSearchParams()
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.append(name, String(v))
        else if (v !== null) throw new ParamError(`Parameter ${name} must be a string, number, boolean or a list of them`)
      }
    }
    return out
  }
  if (type === 'application/x-www-form-urlencoded' || type === '' || type === 'text/plain') return new URLSearchParams(body)
  throw new ParamError(`Parameters in a ${type} body are not supported; send a form or a JSON object`)
}

/** A date-time as ClickHouse reads one at its best effort (the one reader: `time/parse-instant.ts`). */
export { parseInstant }

/**
 * ClickHouse's text form of a DateTime in `zone`, as Tinybird returns it. In-process results carry the
 * DateTime scalar as a Date (it becomes ISO text only when serialized), so both are read.
 */
export function chDateTime(value: unknown, zone: string): string {
  const instant = value instanceof Date ? DateTime.fromJSDate(value) : DateTime.fromISO(String(value), { zone: 'UTC' })
  return instant.setZone(zone).toFormat('yyyy-MM-dd HH:mm:ss')
}

/** `Idempotency-Key` / `X-Idempotency-Key` header or `?idempotency_key=`; the mutation checks its length. */
export function idempotencyKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['idempotency-key'] ?? req.headers['x-idempotency-key']
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('idempotency_key') ?? undefined
}

/** One form field, from the query string or a form-urlencoded body (Tinybird takes both). */
export function formField(url: URL, body: string, contentType: string, name: string): string | undefined {
  const fromQuery = url.searchParams.get(name)
  if (fromQuery !== null) return fromQuery
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined
  return new URLSearchParams(body).get(name) ?? undefined
}

/**
 * `?builtin=true` reaches the built-in surface while a project is loaded: `/v0/pipes` and
 * `/v0/pipes/openapi.json` list the built-in pipes, `/v0/pipes/<name>.<format>` runs the built-in pipe and
 * `/v0/sql` reads the built-in pipe, `/v0/events?name=<ds>` appends to the built-in datasource, where the project has one of the same name.
 * Without it, a project's name wins (its pipes and datasources are what `/v0/*` serves); built-in names
 * the project does not use answer as always.
 */
export function wantsBuiltin(url: URL): boolean {
  return ['1', 'true'].includes(url.searchParams.get('builtin')?.toLowerCase() ?? '')
}
