import { toChDateTime, toChDateTime64 } from '../clickhouse.js'
import type { AppEventRow, EcommEventRow, IngestTable, ProductRow, StockChange, WarehouseStockRow } from '../types.js'
import {
  checkAppEvent,
  checkEcommEvent,
  checkProduct,
  checkWarehouseStock,
  insertColumns,
  type Checked,
  type StockBalance,
  type ValidAppEvent,
  type ValidEcommEvent,
  type ValidProduct,
  type ValidWarehouseStock,
} from '../validate.js'

/** How one datasource's rows are checked, encoded as values in `COLUMNS` order, and move stock. */
export interface RowCodec<In, Valid> {
  check(row: In): Checked<Valid>
  encode(row: Valid): unknown[]
  /** Adds the row's stock change to `stock` (product → summed delta). */
  move?(row: Valid, stock: Map<string, number>): void
}

/** The app-event columns and the row field each holds, from the catalog (the 16 dimensions among them). */
const APP_EVENT_INSERT = insertColumns('app_events')

/** The columns of each datasource, in the order its codec encodes a row. */
export const COLUMNS: Readonly<Record<IngestTable, readonly [string, ...string[]]>> = {
  ecomm_events: ['timestamp', 'event', 'product'],
  warehouse_stock: ['timestamp', 'product', 'store', 'amount'],
  products: ['id', 'category', 'name', 'photo', 'price', 'version'],
  app_events: APP_EVENT_INSERT.columns,
}

/** Datasources partitioned by time: their first encoded value is the timestamp text (`YYYY-MM-…`). */
export const PARTITIONED: Readonly<Record<IngestTable, boolean>> = { ecomm_events: true, warehouse_stock: true, products: false, app_events: true }

export const monthOf = (row: unknown[]): string => String(row[0]).slice(0, 7)

/**
 * The encoded rows of each stock-moving datasource that reach the change log (a sale; every warehouse
 * update): in an unkeyed write they alone carry its write id (sql/0082_write_ids.sql), so the other rows
 * cost no extra bytes.
 */
export const LOGGED: Partial<Readonly<Record<IngestTable, (row: readonly unknown[]) => boolean>>> = {
  ecomm_events: (row) => row[1] === 'sale',
  warehouse_stock: () => true,
}

const DAY_MS = 86_400_000
const TWO_DIGITS: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))

/**
 * The `YYYY-MM-DD ` text of a day (days since the epoch), formatted once per day seen: rows of a batch
 * cluster in a few days, in any order. Holds at most a few thousand days (a batch's).
 */
export function dayPrefix(): (day: number) => string {
  const days = new Map<number, string>()
  return (day) => {
    let prefix = days.get(day)
    if (prefix === undefined) {
      if (days.size >= 4096) days.clear()
      days.set(day, (prefix = toChDateTime(new Date(day * DAY_MS)).slice(0, 11)))
    }
    return prefix
  }
}

/**
 * `toChDateTime` of epoch milliseconds for a batch's rows, one call per row: the date part from
 * `dayPrefix` and the time of day from a table of two-digit strings.
 */
export function msDateTimeText(): (ms: number) => string {
  const days = dayPrefix()
  return (ms) => {
    const today = Math.floor(ms / DAY_MS)
    const seconds = Math.floor((ms - today * DAY_MS) / 1000)
    return `${days(today)}${TWO_DIGITS[Math.floor(seconds / 3600)]}:${TWO_DIGITS[Math.floor(seconds / 60) % 60]}:${TWO_DIGITS[seconds % 60]}`
  }
}

/** `msDateTimeText` for Dates. */
export function dateTimeText(): (d: Date) => string {
  const text = msDateTimeText()
  return (d) => text(d.getTime())
}

/** The non-zero moves of `stock` (product → summed delta), as a batch reports them. */
export function stockChangesOf(stock: ReadonlyMap<string, number>): StockChange[] {
  const changes: StockChange[] = []
  for (const [product, delta] of stock) if (delta !== 0) changes.push({ product, delta })
  return changes
}

/** How a stored row moves its product's stock (product → summed delta), by datasource; the typed and the one-pass paths both use it. */
export const STOCK_MOVES = {
  ecomm_events: (r: Pick<ValidEcommEvent, 'event' | 'product'>, stock: Map<string, number>): void => {
    if (r.event === 'sale') stock.set(r.product, (stock.get(r.product) ?? 0) - 1)
  },
  warehouse_stock: (r: Pick<ValidWarehouseStock, 'product' | 'amount'>, stock: Map<string, number>): void => {
    stock.set(r.product, (stock.get(r.product) ?? 0) + r.amount)
  },
} as const satisfies Partial<Record<IngestTable, unknown>>

export function ecommEventCodec(now: Date): RowCodec<EcommEventRow, ValidEcommEvent> {
  const text = dateTimeText()
  return {
    check: (r) => checkEcommEvent(r, now),
    encode: (r) => [text(r.timestamp), r.event, r.product],
    move: STOCK_MOVES.ecomm_events,
  }
}

export function warehouseStockCodec(now: Date, balance: StockBalance): RowCodec<WarehouseStockRow, ValidWarehouseStock> {
  const text = dateTimeText()
  return {
    check: (r) => checkWarehouseStock(r, now, balance),
    encode: (r) => [text(r.timestamp), r.product, r.store, r.amount],
    move: STOCK_MOVES.warehouse_stock,
  }
}

/** Later rows of a batch win over earlier ones: each gets a higher `version()`. */
export function productCodec(version: () => bigint): RowCodec<ProductRow, ValidProduct> {
  return {
    check: checkProduct,
    encode: (r) => [r.id, r.category, r.name, r.photo, r.price, version().toString()],
  }
}

export function appEventCodec(now: Date, workspaceId: string | undefined): RowCodec<AppEventRow, ValidAppEvent> {
  return { check: (r) => checkAppEvent(r, now, workspaceId), encode: encodeAppEvent }
}

function encodeAppEvent(r: ValidAppEvent): unknown[] {
  const row = r as unknown as Record<string, unknown>
  return APP_EVENT_INSERT.fields.map((f) => (f === 'timestamp' ? toChDateTime64(r.timestamp) : row[f]))
}
