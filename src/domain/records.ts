import { APPS, LANDING, type ColumnEntry, type DatasourceEntry } from '../catalog/index.js'
import type { RecordSource } from '../store/store.js'
import type { IngestTable } from '../store/types.js'
import { fastInstant, parseInstant } from '../time/parse-instant.js'

/** A line that cannot become a row of its datasource; it is quarantined raw with this reason. */
class LineError extends Error {}

type Input = Record<string, unknown>
type Json = Record<string, unknown>

/**
 * A Tinybird datasource Sightline ingests into, and how one NDJSON object (or CSV record) becomes a row
 * of it, read from the catalog's columns: each column under its ClickHouse name, its field name or an
 * alias. Coercion is lenient where the row can carry the value (numbers as strings, a missing required
 * string as '', which validation then quarantines like any bad row) and strict where it cannot (an
 * unknown choice, a non-integer amount, an unreadable timestamp): those lines are `rejected` raw.
 */
export interface Datasource {
  /** The table (the catalog's landing datasource). */
  readonly name: IngestTable
  /** The operation the append runs as, named after the datasource (metrics and logs show it). */
  readonly operationName: string
  toRow(record: Json): Input
  /** The row fields `readInto` fills. */
  readonly fields: readonly string[]
  /** Reads `record` into `row` as `toRow` does, timestamps as epoch milliseconds; returns why it cannot, else undefined. */
  readInto(record: Json, row: Input): string | undefined
}

function pick(record: Json, names: readonly string[]): unknown {
  for (let i = 0; i < names.length; i++) {
    const value = record[names[i] as string]
    if (value !== undefined) return value
  }
  return undefined
}

/** A string column: numbers and booleans as text (as ClickHouse reads them); missing as '' when required. */
function text(record: Json, names: readonly string[], required: boolean): string | null {
  const value = pick(record, names)
  if (value === undefined || value === null) return required ? '' : null
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw new LineError(`${names[0]} is not a string`)
}

function number(record: Json, names: readonly string[]): number | null {
  const value = pick(record, names)
  if (value === undefined || value === null) return null
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new LineError(`${names[0]} is not a number`)
  return n
}

function int32(record: Json, names: readonly string[]): number {
  const n = number(record, names)
  if (n === null) throw new LineError(`${names[0]} is missing`)
  if (!Number.isInteger(n) || n < -2_147_483_648 || n > 2_147_483_647) throw new LineError(`${names[0]} is not a 32-bit integer`)
  return n
}

function float(record: Json, names: readonly string[], required: boolean): number | null {
  const n = number(record, names)
  if (n === null && required) throw new LineError(`${names[0]} is missing`)
  return n
}

/** One of `values` (case-insensitive), as the row carries it. */
function choice(record: Json, names: readonly string[], values: readonly string[]): string {
  const value = pick(record, names)
  const key = typeof value === 'string' ? value.toLowerCase() : undefined
  const found = key === undefined ? undefined : values.find((v) => v === key)
  if (found === undefined) throw new LineError(`unknown ${names[0]} ${JSON.stringify(value ?? null)}`)
  return found
}

/**
 * A DateTime column as ClickHouse reads NDJSON (UTC without an offset), as epoch milliseconds (no Date
 * per row on the one-pass path); absent means "now", validation's default.
 */
function timestamp(record: Json, names: readonly string[]): number | null {
  const value = pick(record, names)
  if (value === undefined || value === null || value === '') return null
  const ms = typeof value === 'string' || typeof value === 'number' ? instantOf(value) : undefined
  if (ms === undefined || Number.isNaN(ms)) throw new LineError(`timestamp ${JSON.stringify(value)} is not a date-time`)
  return ms
}

/** A timestamp's instant: the common forms straight to epoch milliseconds (no ISO text in between), the rest as `parseInstant` reads them. */
function instantOf(value: string | number): number | undefined {
  if (typeof value === 'string') {
    const ms = fastInstant(value, 'UTC')
    if (ms === null) return undefined
    if (ms !== undefined) return ms
  }
  const iso = parseInstant(value, 'UTC')
  return iso === undefined ? undefined : new Date(iso).getTime()
}

const APP_NAMES: readonly string[] = APPS.map((a) => a.name)

/** How one column is read from a record, by its catalog rule; undefined for columns clients do not send. */
function reader(column: ColumnEntry): ((record: Json) => unknown) | undefined {
  const { rule, field } = column
  if (field === undefined || rule === undefined) return undefined
  const names = [...new Set([column.name, field, ...(column.aliases ?? [])])]
  switch (rule.kind) {
    case 'timestamp':
      return (r) => timestamp(r, names)
    case 'id':
    case 'action':
    case 'workspace':
      return (r) => text(r, names, true)
    case 'text':
      return (r) => text(r, names, false)
    case 'money':
      return (r) => float(r, names, !rule.optional)
    case 'amount':
      return (r) => int32(r, names)
    case 'choice':
      return (r) => choice(r, names, rule.values)
    case 'app':
      return (r) => choice(r, names, APP_NAMES)
    case 'generated':
      return undefined
  }
}

/** A landing datasource's record reader, compiled once from its catalog columns. */
function ingestDatasource(entry: DatasourceEntry): Datasource {
  const fields: string[] = []
  const reads: Array<(record: Json) => unknown> = []
  const timestamps: string[] = []
  for (const c of entry.columns) {
    const read = reader(c)
    if (read && c.field) {
      fields.push(c.field)
      reads.push(read)
      if (c.rule?.kind === 'timestamp') timestamps.push(c.field)
    }
  }
  const readInto = (record: Json, row: Input): void => {
    for (let i = 0; i < reads.length; i++) row[fields[i] as string] = (reads[i] as (record: Json) => unknown)(record)
  }
  return {
    name: entry.name as IngestTable,
    operationName: `events_${entry.name}`,
    fields,
    toRow: (record) => {
      const row: Input = {}
      readInto(record, row)
      // Typed rows carry Dates, as the GraphQL inputs do.
      for (const f of timestamps) if (row[f] !== null) row[f] = new Date(row[f] as number)
      return row
    },
    readInto: (record, row) => {
      try {
        readInto(record, row)
        return undefined
      } catch (err) {
        if (err instanceof LineError) return err.message
        throw err
      }
    },
  }
}

/** The reader of a landing datasource, by its table name. */
export function datasourceReader(table: IngestTable): Datasource | undefined {
  const found = DATASOURCES.get(table)
  return found?.name === table ? found : undefined
}

/** The datasources by the names Tinybird clients post to (the catalog's landing datasources and their aliases, e.g. the seed's `barely_events`). */
export const DATASOURCES: ReadonlyMap<string, Datasource> = new Map(
  LANDING.flatMap((entry) => {
    const ds = ingestDatasource(entry)
    return [entry.name, ...(entry.aliases ?? [])].map((name) => [name, ds] as const)
  }),
)

export interface ParsedBatch {
  readonly rows: Input[]
  readonly rejected: Array<{ row: string; reason: string }>
  /** Each row's raw text and its line (from 1), then each rejected record's: what the quarantine keeps. */
  readonly sources: Array<{ row: string; label: string }>
  /** Each source's line (from 1), in the same order as `sources`. */
  readonly lines: number[]
}

/** One record of a body: its raw text, its line (from 1), and the object it holds (undefined: unreadable, with why). */
export interface SourceRecord {
  readonly raw: string
  readonly line: number
  readonly record: Json | undefined
  readonly reason?: string
}

/**
 * Visits an NDJSON body's records in order: each line's text (without its CR), its number (from 1, blank
 * lines counted but skipped) and its object, or why it is not one.
 */
function eachNdjsonRecord(body: string, visit: (raw: string, line: number, record: Json | undefined, reason?: string) => void): void {
  let start = 0
  for (let line = 1; start <= body.length; line++) {
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    const text = body.charCodeAt(end - 1) === 13 /* \r */ && end > start ? body.slice(start, end - 1) : body.slice(start, end)
    start = end + 1
    // Nearly every line opens with `{`; only the others can be blank.
    if (text.charCodeAt(0) !== 123 && text.trim() === '') continue
    let record: unknown
    try {
      record = JSON.parse(text)
    } catch (err) {
      visit(text, line, undefined, `invalid JSON: ${(err as Error).message}`)
      continue
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) visit(text, line, undefined, 'the line is not a JSON object')
    else visit(text, line, record as Json)
  }
}

/** How many records an NDJSON body holds (its lines that are not blank), without parsing them. */
function countNdjsonRecords(body: string): number {
  let n = 0
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    if (body.charCodeAt(start) === 123 || body.slice(start, end).trim() !== '') n++
    start = end + 1
  }
  return n
}

/** Splits an NDJSON body into typed inputs and raw rejected lines; blank lines are skipped. */
export function parseNdjson(body: string, datasource: Datasource): ParsedBatch {
  const batch = new BatchBuilder()
  eachNdjsonRecord(body, (raw, line, record, reason) => {
    if (record === undefined) batch.reject(raw, line, reason ?? 'the line is not a JSON object')
    else batch.type(datasource, record, raw, line)
  })
  return batch.done()
}

/**
 * An NDJSON body as the store's one-pass ingest reads it (`Store.ingestRecords`): the lines as
 * `parseNdjson` reads them, each record read into the store's row by the datasource's columns.
 */
export function ndjsonSource(body: string, datasource: Datasource): RecordSource {
  return {
    size: countNdjsonRecords(body),
    fields: datasource.fields,
    each: (visit) => eachNdjsonRecord(body, visit),
    read: datasource.readInto,
  }
}

/**
 * Records (an NDJSON object or a CSV record by column name) into typed inputs; a record that is
 * missing (unreadable) or cannot be typed is rejected with its raw text and a reason.
 */
export function parseRecords(records: readonly SourceRecord[], datasource: Datasource): ParsedBatch {
  const batch = new BatchBuilder()
  for (const { raw, line, record, reason } of records) {
    if (record === undefined) batch.reject(raw, line, reason ?? 'the record has more cells than the datasource has columns')
    else batch.type(datasource, record, raw, line)
  }
  return batch.done()
}

/** A batch as its records are read: typed rows and rejected records, each with its raw text and line. */
class BatchBuilder {
  private readonly rows: Input[] = []
  private readonly rejected: Array<{ row: string; reason: string }> = []
  private readonly rowSources: Array<{ row: string; label: string }> = []
  private readonly rejectedSources: Array<{ row: string; label: string }> = []
  private readonly rowLines: number[] = []
  private readonly rejectedLines: number[] = []

  reject(text: string, line: number, reason: string): void {
    this.rejected.push({ row: text, reason })
    this.rejectedSources.push({ row: text, label: `line ${line}` })
    this.rejectedLines.push(line)
  }

  /** Types one record as a row of `datasource`, or rejects it with the reason it cannot be typed. */
  type(datasource: Datasource, record: Json, text: string, line: number): void {
    try {
      this.rows.push(datasource.toRow(record))
    } catch (err) {
      if (!(err instanceof LineError)) throw err
      this.reject(text, line, err.message)
      return
    }
    this.rowSources.push({ row: text, label: `line ${line}` })
    this.rowLines.push(line)
  }

  done(): ParsedBatch {
    return { rows: this.rows, rejected: this.rejected, sources: this.rowSources.concat(this.rejectedSources), lines: this.rowLines.concat(this.rejectedLines) }
  }
}

