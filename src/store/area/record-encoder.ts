import { datasource, type ColumnEntry } from '../../catalog/index.js'
import { toChDateTime64 } from '../clickhouse.js'
import type { RecordSource } from '../store.js'
import type { IngestTable, RowError, StockChange } from '../types.js'
import { rowRules, type CheckEnv, type StockBalance } from '../validate.js'
import { msDateTimeText, STOCK_MOVES, stockChangesOf } from './codecs.js'

/**
 * The one-pass path of ingest for records a transport read (NDJSON lines): each record is read by the
 * source (the domain's reading of Tinybird records) into one row object reused for the whole batch,
 * checked by the store's rules (validate.ts, the same ones the typed inputs go through) and turned straight
 * into the values its insert sends, with no typed row or Date in between. Records that cannot be read are
 * quarantined raw after the rows that break a rule, as a typed batch's rejected records are.
 */

type Json = Record<string, unknown>

/** A checked timestamp (epoch milliseconds, or the Date validation gave for "now") as ClickHouse's DateTime text. */
function dateTimeValue(withMillis: boolean): (v: unknown) => string {
  const text = msDateTimeText()
  return (v) => {
    const ms = typeof v === 'number' ? v : (v as Date).getTime()
    return withMillis ? toChDateTime64(new Date(ms)) : text(ms)
  }
}

/** The value a column's checked field is sent as, when it is not the field itself: date-time text, a product version. */
function valueOf(column: ColumnEntry, version: () => bigint): ((v: unknown) => unknown) | undefined {
  if (column.rule?.kind === 'generated') return () => version().toString()
  if (column.type.startsWith('DateTime64')) return dateTimeValue(true)
  if (column.type.startsWith('DateTime')) return dateTimeValue(false)
  return undefined
}

/** A batch as its insert sends it: each good row's values, and what goes to the quarantine. */
export interface EncodedBatch {
  /** Each good row's values in the datasource's insert columns' order (`COLUMNS`), as ClickHouse reads them. */
  readonly rows: unknown[][]
  readonly bad: Array<{ row: string; reason: string; at: string }>
  /** The refused rows' errors, then the unreadable records' (each indexed by its line, from 0). */
  readonly errors: RowError[]
  readonly stockChanges: StockChange[]
}

/** What the per-datasource parts of the one pass need from the store: product versions and the stock balance. */
export interface LineEnv extends CheckEnv {
  readonly version: () => bigint
  readonly balance?: StockBalance | undefined
}

/**
 * A datasource's one-pass encoder, compiled from its catalog columns: `add` takes each record of a source
 * in turn, `done` gives the batch. One per batch (it holds the batch's state).
 */
export function recordEncoder(
  table: IngestTable,
  source: Pick<RecordSource, 'fields' | 'read'>,
  env: LineEnv,
): { add(raw: string, line: number, record: Json | undefined, reason?: string): void; done(): EncodedBatch } {
  const entry = datasource(table)
  if (!entry) throw new Error(`no datasource ${table} in the catalog`)
  // The columns the insert names, in table order (as COLUMNS): the ones clients send, then generated ones.
  const columns = entry.columns.filter((c) => c.field !== undefined || c.rule?.kind === 'generated')
  const fields = columns.map((c) => c.field)
  const values = columns.map((c) => valueOf(c, env.version))
  const check = rowRules(table)
  // The row holds the checked fields the move reads (event, product, amount).
  const move = (STOCK_MOVES as Partial<Record<IngestTable, (row: never, stock: Map<string, number>) => void>>)[table]
  const balance = table === 'warehouse_stock' ? env.balance : undefined
  // One row object for the whole batch, every field present from the start (one shape).
  const row: Json = Object.fromEntries(source.fields.map((f) => [f, undefined]))
  const rows: unknown[][] = []
  const bad: EncodedBatch['bad'] = []
  const errors: RowError[] = []
  const rejectedBad: EncodedBatch['bad'] = []
  const rejectedErrors: RowError[] = []
  const stock = new Map<string, number>()
  const at = toChDateTime64(new Date())
  const refuse = (raw: string, line: number, reason: string) => {
    rejectedErrors.push({ index: line - 1, message: reason })
    rejectedBad.push({ row: raw, reason: `line ${line}: ${reason}`, at })
  }
  return {
    add(raw, line, record, unreadable) {
      if (record === undefined) return refuse(raw, line, unreadable ?? 'the record cannot be read')
      const unfit = source.read(record, row)
      if (unfit !== undefined) return refuse(raw, line, unfit)
      const reason = check(row, env) ?? (balance ? balance.refusal(row.product as string, row.amount as number) : undefined)
      if (reason !== undefined) {
        errors.push({ index: line - 1, message: reason })
        bad.push({ row: raw, reason: `line ${line}: ${reason}`, at })
        return
      }
      const out = new Array<unknown>(fields.length)
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]
        const value = field === undefined ? undefined : row[field]
        const to = values[i]
        out[i] = to === undefined ? value : to(value)
      }
      rows.push(out)
      move?.(row as never, stock)
    },
    done() {
      return { rows, bad: bad.concat(rejectedBad), errors: errors.concat(rejectedErrors), stockChanges: stockChangesOf(stock) }
    },
  }
}
