/**
 * Stock statuses in rank order (the grid's trending order and the seed's `stock_status` number are the
 * index), and the rule: above the low-stock threshold in stock, at or below it (and above 0) low, 0 or
 * less out. `sql/queries/api_product_grid.sql` states the same rule as a `multiIf` (a test holds them
 * together).
 */
export const STOCK_STATUSES = ['IN_STOCK', 'LOW_STOCK', 'OUT_OF_STOCK'] as const
export type StockStatus = (typeof STOCK_STATUSES)[number]

/** The threshold when `SIGHTLINE_LOW_STOCK_THRESHOLD` is not set. */
export const DEFAULT_LOW_STOCK_THRESHOLD = 100

/** The status's rank: its index in STOCK_STATUSES. */
export function stockRank(available: number, lowStockThreshold: number): number {
  if (available > lowStockThreshold) return 0
  if (available > 0) return 1
  return 2
}

export function stockStatus(available: number, lowStockThreshold: number): StockStatus {
  return STOCK_STATUSES[stockRank(available, lowStockThreshold)] as StockStatus
}

/** A rank (the SQL's `status_rank`, the seed's `stock_status`) as its status; out of stock when unknown. */
export function stockStatusOfRank(rank: number): StockStatus {
  return STOCK_STATUSES[rank] ?? 'OUT_OF_STOCK'
}

/** A status as its rank. */
export function rankOfStockStatus(status: StockStatus): number {
  return STOCK_STATUSES.indexOf(status)
}
