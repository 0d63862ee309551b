import type { App, AppEventRow, EcommEventRow, ProductRow, WarehouseStockRow } from './types.js'

/** Actions each app may send; anything else is a bad row. */
export const APP_ACTIONS: Readonly<Record<App, readonly string[]>> = {
  cart: ['view', 'add_to_cart', 'purchase'],
  fm: ['play', 'pause', 'share'],
  link: ['click', 'redirect'],
  page: ['view', 'interaction'],
}

const ECOMM_EVENTS: readonly string[] = ['view', 'cart', 'sale']
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

function timestamp(value: Date | null | undefined, now: Date): Date {
  if (value === null || value === undefined) return now
  const t = value.getTime()
  if (Number.isNaN(t)) throw new RowProblem('timestamp is not a valid date')
  if (t < EARLIEST) throw new RowProblem(`timestamp ${value.toISOString()} is before 2000-01-01`)
  if (t > now.getTime() + MAX_AHEAD_MS) throw new RowProblem(`timestamp ${value.toISOString()} is more than a day ahead`)
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
    const next = (this.stock.get(product) ?? 0) + amount
    if (next < INT32_MIN || next > INT32_MAX) {
      throw new RowProblem(`amount ${amount} would take the stock of ${product} to ${next}, outside the 32-bit range`)
    }
    this.stock.set(product, next)
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

export interface ValidEcommEvent {
  timestamp: Date
  event: EcommEventRow['event']
  product: string
}

export function checkEcommEvent(r: EcommEventRow, now: Date): Checked<ValidEcommEvent> {
  return check(() => {
    if (!ECOMM_EVENTS.includes(r.event)) throw new RowProblem(`unknown event "${String(r.event)}"`)
    return { timestamp: timestamp(r.timestamp, now), event: r.event, product: id(r.product, 'product') }
  })
}

export interface ValidWarehouseStock {
  timestamp: Date
  product: string
  store: string
  amount: number
}

export function checkWarehouseStock(r: WarehouseStockRow, now: Date, balance?: StockBalance): Checked<ValidWarehouseStock> {
  return check(() => {
    if (!Number.isInteger(r.amount)) throw new RowProblem('amount is not an integer')
    if (Math.abs(r.amount) > MAX_AMOUNT) throw new RowProblem(`amount ${r.amount} is beyond ±${MAX_AMOUNT}`)
    const row = { timestamp: timestamp(r.timestamp, now), product: id(r.product, 'product'), store: id(r.store, 'store'), amount: r.amount }
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
  return check(() => ({
    id: id(r.id, 'id'),
    category: id(r.category, 'category'),
    name: id(r.name, 'name'),
    photo: text(r.photo, 'photo'),
    price: money(r.price, 'price'),
  }))
}

export type ValidAppEvent = Required<{ [K in keyof AppEventRow]: NonNullable<AppEventRow[K]> }>

export function checkAppEvent(r: AppEventRow, now: Date, boundWorkspace?: string): Checked<ValidAppEvent> {
  return check(() => {
    const actions = APP_ACTIONS[r.app]
    if (!actions) throw new RowProblem(`unknown app "${String(r.app)}"`)
    if (!actions.includes(r.action)) {
      throw new RowProblem(`unknown action "${r.action}" for app ${r.app} (expected one of ${actions.join(', ')})`)
    }
    const workspaceId = id(r.workspaceId, 'workspaceId')
    if (boundWorkspace !== undefined && workspaceId !== boundWorkspace) {
      throw new RowProblem(`workspace "${workspaceId}" is not the token's workspace`)
    }
    // One literal, dimensions first (the order of the checks decides which reason a row gets). Spelled
    // out rather than looped over DIMENSION_FIELDS: a fixed shape is an order of magnitude faster per
    // row, and the type still demands every field.
    return {
      browser: text(r.browser, 'browser'),
      os: text(r.os, 'os'),
      device: text(r.device, 'device'),
      country: text(r.country, 'country'),
      region: text(r.region, 'region'),
      city: text(r.city, 'city'),
      referer: text(r.referer, 'referer'),
      platform: text(r.platform, 'platform'),
      emailBroadcastId: text(r.emailBroadcastId, 'emailBroadcastId'),
      emailTemplateId: text(r.emailTemplateId, 'emailTemplateId'),
      flowActionId: text(r.flowActionId, 'flowActionId'),
      landingPageId: text(r.landingPageId, 'landingPageId'),
      metaAdId: text(r.metaAdId, 'metaAdId'),
      metaAdSetId: text(r.metaAdSetId, 'metaAdSetId'),
      metaCampaignId: text(r.metaCampaignId, 'metaCampaignId'),
      metaPlacementId: text(r.metaPlacementId, 'metaPlacementId'),
      timestamp: timestamp(r.timestamp, now),
      app: r.app,
      action: r.action,
      workspaceId,
      sessionId: id(r.sessionId, 'sessionId'),
      visitorId: id(r.visitorId, 'visitorId'),
      assetId: text(r.assetId, 'assetId'),
      revenue: r.revenue === null || r.revenue === undefined ? 0 : money(r.revenue, 'revenue'),
    }
  })
}
