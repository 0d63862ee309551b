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

/** How a JSON answer is written, from the request (TINYBIRD.md §6.1). */
export interface RenderOptions {
  /** `output_format_json_quote_64bit_integers=1`: 64-bit and wider integers as JSON strings (Tinybird's default: numbers). */
  readonly quote64BitIntegers?: boolean
  /** Tinybird's `rows_before_limit_at_least`, written when a limit applied. */
  readonly rowsBeforeLimit?: number | undefined
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

/** Tinybird's JSON: `meta`, `data`, `rows`, `rows_before_limit_at_least` when a limit applied, `statistics`. */
function json(columns: readonly Column[], rows: readonly Row[], statistics: Statistics, options: RenderOptions): string {
  const data = project(columns, rows, options)
  const limit = options.rowsBeforeLimit === undefined ? {} : { rows_before_limit_at_least: options.rowsBeforeLimit }
  return JSON.stringify({ meta: columns, data, rows: data.length, ...limit, statistics })
}

/** Strings quoted (quotes doubled, RFC 4180), numbers bare, null as an empty field, like ClickHouse's CSVWithNames. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return `"${String(value).replaceAll('"', '""')}"`
}

/** ClickHouse's CSV (no header, Tinybird's `.csv`) or CSVWithNames (`.csvwithnames`). */
function csv(columns: readonly Column[], rows: readonly Row[], names: boolean): string {
  const lines = names ? [columns.map((c) => csvField(c.name)).join(',')] : []
  for (const row of project(columns, rows)) lines.push(columns.map((c) => csvField(row[c.name])).join(','))
  return lines.map((line) => `${line}\n`).join('')
}

function ndjson(columns: readonly Column[], rows: readonly Row[], options: RenderOptions): string {
  return project(columns, rows, options)
    .map((row) => `${JSON.stringify(row)}\n`)
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
      return csv(columns, rows, false)
    case 'csvwithnames':
      return csv(columns, rows, true)
    case 'ndjson':
      return ndjson(columns, rows, options)
  }
}
