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

/** Tinybird's JSON: `meta`, `data`, `rows`, `statistics`. */
function json(columns: readonly Column[], rows: readonly Row[], statistics: Statistics): string {
  const data = project(columns, rows)
  return JSON.stringify({ meta: columns, data, rows: data.length, statistics })
}

/** Strings quoted (quotes doubled, RFC 4180), numbers bare, null as an empty field, like ClickHouse's CSVWithNames. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return `"${String(value).replaceAll('"', '""')}"`
}

function csv(columns: readonly Column[], rows: readonly Row[]): string {
  const lines = [columns.map((c) => csvField(c.name)).join(',')]
  for (const row of project(columns, rows)) lines.push(columns.map((c) => csvField(row[c.name])).join(','))
  return `${lines.join('\n')}\n`
}

function ndjson(columns: readonly Column[], rows: readonly Row[]): string {
  return project(columns, rows)
    .map((row) => `${JSON.stringify(row)}\n`)
    .join('')
}

export function render(format: Format, columns: readonly Column[], rows: readonly Row[], statistics: Statistics): string {
  switch (format) {
    case 'json':
      return json(columns, rows, statistics)
    case 'csv':
      return csv(columns, rows)
    case 'ndjson':
      return ndjson(columns, rows)
  }
}
