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

export const FORMATS = ['json', 'csv', 'ndjson'] as const
export type Format = (typeof FORMATS)[number]

export const CONTENT_TYPE: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
}

/** Each row with exactly the meta's columns, in the meta's order (missing ones as null). */
function project(columns: readonly Column[], rows: readonly Row[]): Array<Record<string, unknown>> {
  return rows.map((row) => Object.fromEntries(columns.map((c) => [c.name, row[c.name] ?? null])))
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

/** Tinybird's JSON: `meta`, `data`, `rows`, `statistics`. */
function json(columns: readonly Column[], rows: readonly Row[], statistics: Statistics): string {
  const data = project(columns, rows)
  return stringify({ meta: columns, data, rows: data.length, statistics })
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

function csv(columns: readonly Column[], rows: readonly Row[], guard: boolean): string {
  const lines = [columns.map((c) => csvField(c.name, guard)).join(',')]
  for (const row of project(columns, rows)) lines.push(columns.map((c) => csvField(row[c.name], guard)).join(','))
  return `${lines.join('\n')}\n`
}

function ndjson(columns: readonly Column[], rows: readonly Row[]): string {
  return project(columns, rows)
    .map((row) => `${stringify(row)}\n`)
    .join('')
}

export interface RenderOptions {
  /** Neutralise formula-like string cells in CSV. @default true */
  readonly csvFormulaGuard?: boolean
}

export function render(format: Format, columns: readonly Column[], rows: readonly Row[], statistics: Statistics, options: RenderOptions = {}): string {
  switch (format) {
    case 'json':
      return json(columns, rows, statistics)
    case 'csv':
      return csv(columns, rows, options.csvFormulaGuard ?? true)
    case 'ndjson':
      return ndjson(columns, rows)
  }
}
