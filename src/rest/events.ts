import type { IncomingMessage } from 'node:http'
import { createGunzip } from 'node:zlib'
import { App, Dimension } from '../schema/enums.js'
import { declaresTooLarge, readBody } from '../http.js'
import { HttpError } from './http.js'
import { parseInstant } from '../time/parse-instant.js' // perf: luxon's answers, without luxon on the hot path

/** A line that cannot become the mutation's typed input; it is quarantined raw with this reason. */
class LineError extends Error {}

type Input = Record<string, unknown>
type Json = Record<string, unknown>

/**
 * A Tinybird datasource Sightline ingests into: the mutation that takes its rows and how one NDJSON
 * object (the datasource's columns) becomes that mutation's input. Coercion is lenient where the
 * GraphQL input can carry the value (numbers as strings, a missing required string as '', which the
 * store's validation then quarantines like any mutation row) and strict where it cannot (an unknown
 * enum value, a non-integer amount, an unreadable timestamp): those lines are sent as `rejected`.
 */
export interface Datasource {
  readonly name: string
  /** The mutation, with `$rows`, `$key` and `$rejected`, answering `result { accepted quarantined deduplicated }`. */
  readonly mutation: string
  readonly operationName: string
  toInput(record: Json): Input
}

function pick(record: Json, names: readonly string[]): unknown {
  for (const name of names) if (record[name] !== undefined) return record[name]
  return undefined
}

/** A String field: numbers and booleans as text (as ClickHouse reads them); missing as '' when required. */
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

/** One of an enum's values (case-insensitive) as its GraphQL name. */
function choice(record: Json, names: readonly string[], values: Readonly<Record<string, string>>): string {
  const value = pick(record, names)
  const key = typeof value === 'string' ? value.toLowerCase() : undefined
  const found = key === undefined ? undefined : Object.entries(values).find(([, v]) => v === key)
  if (!found) throw new LineError(`unknown ${names[0]} ${JSON.stringify(value ?? null)}`)
  return found[0]
}

/** A DateTime column as ClickHouse reads NDJSON (UTC without an offset); absent means "now", the mutation's default. */
function timestamp(record: Json): string | null {
  const value = pick(record, ['timestamp'])
  if (value === undefined || value === null || value === '') return null
  const iso = typeof value === 'string' || typeof value === 'number' ? parseInstant(value, 'UTC') : undefined
  if (iso === undefined) throw new LineError(`timestamp ${JSON.stringify(value)} is not a date-time`)
  return iso
}

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** A field read from its seed column (snake_case) or its GraphQL name. */
const names = (field: string) => [...new Set([snake(field), field])]

/** The mutation of a datasource, named after it (so metrics and logs show the datasource). */
function mutation(datasource: string, field: string, argument: string, input: string): Pick<Datasource, 'name' | 'mutation' | 'operationName'> {
  const operationName = `events_${datasource}`
  return {
    name: datasource,
    operationName,
    mutation: `mutation ${operationName}($rows: [${input}!]!, $key: String, $rejected: [RejectedRowInput!]) {
  result: ${field}(${argument}: $rows, idempotencyKey: $key, rejected: $rejected) { accepted quarantined deduplicated }
}`,
  }
}

const EVENT_TYPES = { VIEW: 'view', CART: 'cart', SALE: 'sale' }

const ecommEvents: Datasource = {
  ...mutation('ecomm_events', 'ingestEcommEvents', 'events', 'EcommEventInput'),
  toInput: (r) => ({ timestamp: timestamp(r), event: choice(r, ['event'], EVENT_TYPES), product: text(r, ['product'], true) }),
}

const warehouseStock: Datasource = {
  ...mutation('warehouse_stock', 'ingestWarehouseStock', 'updates', 'WarehouseStockInput'),
  toInput: (r) => ({
    timestamp: timestamp(r),
    product: text(r, ['product'], true),
    store: text(r, ['store'], true),
    amount: int32(r, ['amount']),
  }),
}

const products: Datasource = {
  ...mutation('products', 'upsertProducts', 'products', 'ProductInput'),
  toInput: (r) => ({
    id: text(r, ['id'], true),
    category: text(r, ['category'], true),
    name: text(r, ['name'], true),
    photo: text(r, ['photo'], false),
    price: float(r, ['price'], true),
  }),
}

// Each field with the names a line may give it, worked out once rather than per line.
const APP_STRINGS = ['action', 'workspaceId', 'sessionId', 'visitorId'].map((f) => [f, names(f)] as const)
const OPTIONAL_STRINGS = ['assetId', ...Object.values(Dimension)].map((f) => [f, names(f)] as const)

/** The seed's barely_events columns: `event_type` is the app, the rest are the input's fields in snake_case. */
const appEvents: Datasource = {
  ...mutation('app_events', 'ingestAppEvents', 'events', 'AppEventInput'),
  toInput: (r) => {
    const input: Input = { timestamp: timestamp(r), app: choice(r, ['event_type', 'app'], App) }
    for (const [f, aliases] of APP_STRINGS) input[f] = text(r, aliases, true)
    for (const [f, aliases] of OPTIONAL_STRINGS) input[f] = text(r, aliases, false)
    input.revenue = float(r, ['revenue'], false)
    return input
  },
}

/** The datasources by the names Tinybird clients post to (`barely_events` is the seed's name for app_events). */
export const DATASOURCES: ReadonlyMap<string, Datasource> = new Map([
  ['ecomm_events', ecommEvents],
  ['warehouse_stock', warehouseStock],
  ['products', products],
  ['app_events', appEvents],
  ['barely_events', appEvents],
])

export interface ParsedBatch {
  readonly rows: Input[]
  readonly rejected: Array<{ row: string; reason: string }>
  /** Each row's raw text and its line (from 1), then each rejected record's: what the quarantine keeps. */
  readonly sources: Array<{ row: string; label: string }>
}

/** One record of a body: its raw text, its line (from 1), and the object it holds (undefined: unreadable, with why). */
export interface SourceRecord {
  readonly raw: string
  readonly line: number
  readonly record: Json | undefined
  readonly reason?: string
}

/** Splits an NDJSON body into typed inputs and raw rejected lines; blank lines are skipped. */
export function parseNdjson(body: string, datasource: Datasource): ParsedBatch {
  const records: SourceRecord[] = []
  body.split('\n').forEach((raw, i) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (text.trim() === '') return
    const line = i + 1
    let record: unknown
    try {
      record = JSON.parse(text)
    } catch (err) {
      records.push({ raw: text, line, record: undefined, reason: `invalid JSON: ${(err as Error).message}` })
      return
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      records.push({ raw: text, line, record: undefined, reason: 'the line is not a JSON object' })
      return
    }
    records.push({ raw: text, line, record: record as Json })
  })
  return parseRecords(records, datasource)
}

/**
 * Records (an NDJSON object or a CSV record by column name) into typed inputs; a record that is
 * missing (unreadable) or cannot be typed is rejected with its raw text and a reason.
 */
export function parseRecords(records: readonly SourceRecord[], datasource: Datasource): ParsedBatch {
  const rows: Input[] = []
  const rejected: Array<{ row: string; reason: string }> = []
  const rowSources: Array<{ row: string; label: string }> = []
  const rejectedSources: Array<{ row: string; label: string }> = []
  for (const { raw, line, record, reason } of records) {
    const source = { row: raw, label: `line ${line}` }
    if (record === undefined) {
      rejected.push({ row: raw, reason: reason ?? 'the record has more cells than the datasource has columns' })
      rejectedSources.push(source)
      continue
    }
    try {
      rows.push(datasource.toInput(record))
      rowSources.push(source)
    } catch (err) {
      if (!(err instanceof LineError)) throw err
      rejected.push({ row: raw, reason: err.message })
      rejectedSources.push(source)
    }
  }
  return { rows, rejected, sources: [...rowSources, ...rejectedSources] }
}

/**
 * The request body, decompressed when `Content-Encoding: gzip`. The limit applies to the bytes received
 * and to the decompressed bytes, and reading stops as soon as either passes it (413), so a gzip bomb
 * costs at most `limit` bytes of memory.
 */
export async function readEventsBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `The request body exceeds ${limit} bytes`)
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (encoding === 'identity' || encoding === '') {
    const body = await readBody(req, limit)
    if (body === null) throw tooLarge()
    return body
  }
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    req.resume()
    throw new HttpError(415, `Content-Encoding "${encoding}" is not supported; send gzip or an uncompressed body`)
  }
  if (declaresTooLarge(req, limit)) throw tooLarge()
  const gunzip = createGunzip()
  let received = 0
  let over = false
  const onData = (chunk: Buffer) => {
    received += chunk.length
    if (received > limit && !over) {
      over = true
      gunzip.destroy()
    }
  }
  req.on('data', onData)
  req.pipe(gunzip)
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of gunzip) {
      size += (chunk as Buffer).length
      if (size > limit) {
        over = true
        break
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (!over) throw new HttpError(400, `The gzip body cannot be read: ${(err as Error).message}`)
  } finally {
    req.off('data', onData)
    req.unpipe(gunzip)
    gunzip.destroy()
    req.resume()
  }
  if (over) throw tooLarge()
  return Buffer.concat(chunks)
}
