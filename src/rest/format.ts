/** A result column as Tinybird's `meta` names it: the column and its ClickHouse type. */
export interface Column {
  readonly name: string
  readonly type: string
}

export type Row = Readonly<Record<string, unknown>>

/** What Tinybird reports about a query; Sightline reports only what it knows (see README). */
export interface Statistics {
  /** Seconds. */
  readonly elapsed: number
  readonly rows_read: number
  readonly bytes_read: number
}

export const FORMATS = ['json', 'csv', 'csvwithnames', 'ndjson'] as const
export type Format = (typeof FORMATS)[number]

export const CONTENT_TYPE: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  csvwithnames: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
}

/** How an answer is written, from the request (TINYBIRD.md §6.1). */
export interface RenderOptions {
  /** `output_format_json_quote_64bit_integers=1`: 64-bit and wider integers as JSON strings (Tinybird's default: numbers). */
  readonly quote64BitIntegers?: boolean
  /** Tinybird's `rows_before_limit_at_least`, written when a limit applied. */
  readonly rowsBeforeLimit?: number | undefined
  /** Neutralise formula-like string cells in CSV. @default true */
  readonly csvFormulaGuard?: boolean
}

const WIDE_INTEGER = /^(Nullable\()?(LowCardinality\()?U?Int(64|128|256)\b/

/** Each row with exactly the meta's columns, in the meta's order (missing ones as null). */
function project(columns: readonly Column[], rows: readonly Row[], options: RenderOptions = {}): Array<Record<string, unknown>> {
  const quoted = new Set(options.quote64BitIntegers ? columns.filter((c) => WIDE_INTEGER.test(c.type)).map((c) => c.name) : [])
  return rows.map((row) =>
    Object.fromEntries(
      columns.map((c) => {
        const value = row[c.name] ?? null
        return [c.name, quoted.has(c.name) && value !== null ? String(value) : value]
      }),
    ),
  )
}

/**
 * JSON.stringify that writes bigints (64-bit values beyond 2^53, e.g. a stock outside Int's range) as
 * exact JSON numbers, as ClickHouse's JSON does with `output_format_json_quote_64bit_integers=0`.
 */
function stringify(value: unknown): string {
  let big = false
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v
    big = true
    return `\u0000bigint:${v.toString()}`
  })
  return big ? text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1') : text
}

/** Tinybird's JSON: `meta`, `data`, `rows`, `rows_before_limit_at_least` when a limit applied, `statistics`. */
function json(columns: readonly Column[], rows: readonly Row[], statistics: Statistics, options: RenderOptions): string {
  const data = project(columns, rows, options)
  const limit = options.rowsBeforeLimit === undefined ? {} : { rows_before_limit_at_least: options.rowsBeforeLimit }
  return stringify({ meta: columns, data, rows: data.length, ...limit, statistics })
}

/** Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/

/**
 * Strings quoted (quotes doubled, RFC 4180), numbers bare, null as an empty field, like ClickHouse's
 * CSVWithNames. With `guard`, a string cell that starts like a formula gets a leading `'` (OWASP), so a
 * spreadsheet shows it as text; numbers (`-253`) are not strings and stay as they are.
 */
function csvField(value: unknown, guard: boolean): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  const text = String(value)
  const safe = guard && FORMULA_START.test(text) ? `'${text}` : text
  return `"${safe.replaceAll('"', '""')}"`
}

/** ClickHouse's CSV (no header, Tinybird's `.csv`) or CSVWithNames (`.csvwithnames`). */
function csv(columns: readonly Column[], rows: readonly Row[], names: boolean, guard: boolean): string {
  const lines = names ? [columns.map((c) => csvField(c.name, guard)).join(',')] : []
  for (const row of project(columns, rows)) lines.push(columns.map((c) => csvField(row[c.name], guard)).join(','))
  return lines.map((line) => `${line}\n`).join('')
}

function ndjson(columns: readonly Column[], rows: readonly Row[], options: RenderOptions): string {
  return project(columns, rows, options)
    .map((row) => `${stringify(row)}\n`)
    .join('')
}

export function render(
  format: Format,
  columns: readonly Column[],
  rows: readonly Row[],
  statistics: Statistics,
  options: RenderOptions = {},
): string {
  switch (format) {
    case 'json':
      return json(columns, rows, statistics, options)
    case 'csv':
      return csv(columns, rows, false, options.csvFormulaGuard ?? true)
    case 'csvwithnames':
      return csv(columns, rows, true, options.csvFormulaGuard ?? true)
    case 'ndjson':
      return ndjson(columns, rows, options)
  }
}
