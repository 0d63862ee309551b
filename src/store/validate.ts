import { APPS, datasource, type ColumnEntry, type ColumnRule } from '../catalog/index.js'
import type { App, AppEventRow, EcommEventRow, ProductRow, WarehouseStockRow } from './types.js'

/** Actions each app may send (the apps catalog); anything else is a bad row. */
export const APP_ACTIONS = Object.fromEntries(APPS.map((a) => [a.name, a.actions.map((x) => x.action)])) as unknown as Readonly<Record<App, readonly string[]>>
const EARLIEST = Date.UTC(2000, 0, 1)
const MAX_AHEAD_MS = 24 * 3600 * 1000
const MAX_ID = 256
const MAX_TEXT = 4096
/** Largest |price| or |revenue| accepted: far above any real amount, far below where sums lose their meaning. */
export const MAX_MONEY = 1e12
/** Largest |amount| of one warehouse stock update. */
export const MAX_AMOUNT = 1e9
const INT32_MIN = -2_147_483_648
const INT32_MAX = 2_147_483_647

/** A row's validation outcome: the normalized row, or why it was refused. */
export type Checked<T> = { ok: true; row: T } | { ok: false; reason: string }

class RowProblem extends Error {}

function id(value: string | null | undefined, field: string): string {
  const v = (value ?? '').trim()
  if (v === '') throw new RowProblem(`${field} is empty`)
  if (v.length > MAX_ID) throw new RowProblem(`${field} is longer than ${MAX_ID} characters`)
  // Keys starting with NUL are the batch markers of the aggregating views (sql/0070_batch_ids.sql).
  if (v.includes('\0')) throw new RowProblem(`${field} contains a NUL character`)
  return v
}

function text(value: string | null | undefined, field: string): string {
  const v = value ?? ''
  if (v.length > MAX_TEXT) throw new RowProblem(`${field} is longer than ${MAX_TEXT} characters`)
  return v
}

/** A date-time as a Date or epoch milliseconds (the NDJSON path's form), kept in the form it came in. */
function timestamp(value: Date | number | null | undefined, now: Date): Date | number {
  if (value === null || value === undefined) return now
  const t = typeof value === 'number' ? value : value.getTime()
  if (Number.isNaN(t)) throw new RowProblem('timestamp is not a valid date')
  if (t < EARLIEST) throw new RowProblem(`timestamp ${new Date(t).toISOString()} is before 2000-01-01`)
  if (t > now.getTime() + MAX_AHEAD_MS) throw new RowProblem(`timestamp ${new Date(t).toISOString()} is more than a day ahead`)
  return value
}

function money(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RowProblem(`${field} is not a finite number`)
  if (value < 0) throw new RowProblem(`${field} is negative`)
  if (value > MAX_MONEY) throw new RowProblem(`${field} ${value} is larger than ${MAX_MONEY}`)
  return value
}

/**
 * Products' stock as a batch of warehouse updates goes: starts from the stored stock, and refuses an
 * update that would take a product's stock outside the 32-bit range that GraphQL's Int carries.
 */
export class StockBalance {
  private readonly stock: Map<string, number>
  constructor(current: Iterable<readonly [string, number]>) {
    this.stock = new Map(current)
  }

  /** Applies `amount` to `product`; throws (a row problem) when the result leaves Int's range. */
  apply(product: string, amount: number): void {
    const refused = this.refusal(product, amount)
    if (refused !== undefined) throw new RowProblem(refused)
  }

  /** Applies `amount` to `product`, or says why not (the result would leave Int's range) and leaves the balance as it was. */
  refusal(product: string, amount: number): string | undefined {
    const next = (this.stock.get(product) ?? 0) + amount
    if (next < INT32_MIN || next > INT32_MAX) return `amount ${amount} would take the stock of ${product} to ${next}, outside the 32-bit range`
    this.stock.set(product, next)
    return undefined
  }
}

/** The product ids a batch of warehouse updates touches, as validation will read them (trimmed). */
export function stockProducts(rows: readonly WarehouseStockRow[]): string[] {
  const ids = new Set<string>()
  for (const r of rows) {
    const v = typeof r.product === 'string' ? r.product.trim() : ''
    if (v !== '' && v.length <= MAX_ID) ids.add(v)
  }
  return [...ids]
}

function check<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, row: fn() }
  } catch (err) {
    if (err instanceof RowProblem) return { ok: false, reason: err.message }
    throw err
  }
}

/** What a row's checks may need beyond the row: the time, a bound token's workspace. */
export interface CheckEnv {
  readonly now: Date
  readonly workspace?: string | undefined
}

type Row = Readonly<Record<string, unknown>>
type FieldCheck = (value: unknown, row: Row, env: CheckEnv) => unknown

/** One column's check, from its catalog rule; the messages name the field. */
function fieldCheck(field: string, rule: ColumnRule): FieldCheck | undefined {
  switch (rule.kind) {
    case 'timestamp':
      return (v, _r, env) => timestamp(v as Date | null | undefined, env.now)
    case 'id':
      return (v) => id(v as string | null | undefined, field)
    case 'text':
      return (v) => text(v as string | null | undefined, field)
    case 'money':
      return rule.optional ? (v) => (v === null || v === undefined ? 0 : money(v as number, field)) : (v) => money(v as number, field)
    case 'amount':
      return (v) => {
        if (!Number.isInteger(v)) throw new RowProblem(`${field} is not an integer`)
        if (Math.abs(v as number) > MAX_AMOUNT) throw new RowProblem(`${field} ${String(v)} is beyond ±${MAX_AMOUNT}`)
        return v
      }
    case 'choice':
      return (v) => {
        if (!rule.values.includes(v as string)) throw new RowProblem(`unknown ${field} "${String(v)}"`)
        return v
      }
    case 'app':
      return (v) => {
        if (!Object.hasOwn(APP_ACTIONS, v as string)) throw new RowProblem(`unknown app "${String(v)}"`)
        return v
      }
    case 'action':
      return (v, r) => {
        const actions = APP_ACTIONS[r.app as App]
        if (!actions?.includes(v as string)) {
          throw new RowProblem(`unknown action "${String(v)}" for app ${String(r.app)} (expected one of ${actions?.join(', ') ?? ''})`)
        }
        return v
      }
    case 'workspace':
      return (v, _r, env) => {
        const workspaceId = id(v as string | null | undefined, field)
        if (env.workspace !== undefined && workspaceId !== env.workspace) throw new RowProblem(`workspace "${workspaceId}" is not the token's workspace`)
        return workspaceId
      }
    case 'generated':
      return undefined
  }
}

/** Rules checked before the others, so a row with several problems gets the most telling reason. */
const FIRST: ReadonlySet<ColumnRule['kind']> = new Set(['choice', 'app', 'action', 'workspace', 'amount'])

/**
 * A landing datasource's rules, compiled from its catalog columns: each column's rule in turn (choices and
 * the app first), over a row by field name.
 */
function compileRules(name: string): { readonly fields: readonly string[]; readonly checks: readonly FieldCheck[] } {
  const entry = datasource(name)
  if (!entry) throw new Error(`no datasource ${name} in the catalog`)
  const columns = entry.columns.filter((c): c is ColumnEntry & { field: string; rule: ColumnRule } => c.field !== undefined && c.rule !== undefined)
  const ordered = [...columns.filter((c) => FIRST.has(c.rule.kind)), ...columns.filter((c) => !FIRST.has(c.rule.kind))]
  const fields: string[] = []
  const checks: FieldCheck[] = []
  for (const c of ordered) {
    const check = fieldCheck(c.field, c.rule)
    if (check) {
      fields.push(c.field)
      checks.push(check)
    }
  }
  return { fields, checks }
}

/** A landing datasource's row check: the normalized row by field name. */
function rowCheck(name: string): (r: Row, env: CheckEnv) => Record<string, unknown> {
  const { fields, checks } = compileRules(name)
  // Index loops over two arrays: one call per row of every batch, so no iterator or tuple per field.
  return (r, env) => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < checks.length; i++) {
      const field = fields[i] as string
      out[field] = (checks[i] as FieldCheck)(r[field], r, env)
    }
    return out
  }
}

/**
 * A landing datasource's rules over a row the caller reuses for every record (the NDJSON path: no object
 * per row): the same checks as the typed inputs', each value replaced by its normalized one in place.
 * Returns why the row is refused, or undefined for a good row.
 */
export function rowRules(name: string): (r: Record<string, unknown>, env: CheckEnv) => string | undefined {
  const { fields, checks } = compileRules(name)
  return (r, env) => {
    try {
      for (let i = 0; i < checks.length; i++) {
        const field = fields[i] as string
        r[field] = (checks[i] as FieldCheck)(r[field], r, env)
      }
      return undefined
    } catch (err) {
      if (err instanceof RowProblem) return err.message
      throw err
    }
  }
}

/**
 * A landing datasource's insert columns in table order and the row field each holds (its catalog
 * columns that clients send; the store adds generated ones itself).
 */
export function insertColumns(name: string): { columns: [string, ...string[]]; fields: string[] } {
  const columns = (datasource(name)?.columns ?? []).filter((c) => c.field !== undefined)
  const [first, ...rest] = columns.map((c) => c.name)
  if (first === undefined) throw new Error(`no datasource ${name} in the catalog`)
  return { columns: [first, ...rest], fields: columns.map((c) => c.field ?? '') }
}

const ECOMM_EVENT = rowCheck('ecomm_events')
const WAREHOUSE_STOCK = rowCheck('warehouse_stock')
const PRODUCT = rowCheck('products')
const APP_EVENT = rowCheck('app_events')

export interface ValidEcommEvent {
  timestamp: Date
  event: EcommEventRow['event']
  product: string
}

export function checkEcommEvent(r: EcommEventRow, now: Date): Checked<ValidEcommEvent> {
  return check(() => ECOMM_EVENT(r as unknown as Row, { now }) as unknown as ValidEcommEvent)
}

export interface ValidWarehouseStock {
  timestamp: Date
  product: string
  store: string
  amount: number
}

export function checkWarehouseStock(r: WarehouseStockRow, now: Date, balance?: StockBalance): Checked<ValidWarehouseStock> {
  return check(() => {
    const row = WAREHOUSE_STOCK(r as unknown as Row, { now }) as unknown as ValidWarehouseStock
    balance?.apply(row.product, row.amount) // last: only a row that is otherwise good moves the balance
    return row
  })
}

export interface ValidProduct {
  id: string
  category: string
  name: string
  photo: string
  price: number
}

export function checkProduct(r: ProductRow): Checked<ValidProduct> {
  return check(() => PRODUCT(r as unknown as Row, { now: new Date(0) }) as unknown as ValidProduct)
}

export type ValidAppEvent = Required<{ [K in keyof AppEventRow]: NonNullable<AppEventRow[K]> }>

export function checkAppEvent(r: AppEventRow, now: Date, boundWorkspace?: string): Checked<ValidAppEvent> {
  return check(() => APP_EVENT(r as unknown as Row, { now, workspace: boundWorkspace }) as unknown as ValidAppEvent)
}
